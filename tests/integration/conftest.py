"""Integration fixtures: the running product (mock provider + controller) on the session's control plane."""

from integration.stack_fixtures import stack

__all__ = ["stack"]
