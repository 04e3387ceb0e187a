"""Exec, attach and port-forward: the kubelet's streaming endpoints, over WebSocket and SPDY/3.1, bridged to the
provider's bidirectional gRPC sessions."""
