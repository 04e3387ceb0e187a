"""A virtual-kubelet provider for AWS Fargate: pods as ECS tasks (see ``provider.py`` for the design)."""
