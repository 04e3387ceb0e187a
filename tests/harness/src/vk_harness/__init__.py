"""The test harness: a real Kubernetes control plane on loopback, and the identities to talk to it."""

from vk_harness.controlplane import ControlPlane, ControlPlaneError, Identity

__all__ = ["ControlPlane", "ControlPlaneError", "Identity"]
