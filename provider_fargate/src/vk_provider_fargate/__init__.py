"""A virtual-kubelet provider for AWS Fargate."""
