"""The Pod side of the kubelet: watching bound pods, running them on the provider, reporting their status."""
