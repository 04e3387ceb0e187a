"""A virtual-kubelet provider for Azure Container Instances."""
