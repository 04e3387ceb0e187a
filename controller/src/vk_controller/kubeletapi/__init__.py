"""The kubelet's HTTPS API (logs, exec, attach, port-forward, stats, metrics, pods, health), served to the API
server and to metrics scrapers exactly as a kubelet serves it."""
