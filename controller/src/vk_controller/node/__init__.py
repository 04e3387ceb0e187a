"""The Node side of the kubelet: registration, the Lease heartbeat and node status."""
