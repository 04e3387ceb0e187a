"""vk-controller: a virtual kubelet that runs the pods of its Node through a gRPC provider."""

__version__ = "0.1.0"
