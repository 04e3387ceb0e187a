"""vk-provider-aci: runs pods on Azure Container Instances.

Not built yet (issue #7): the entry point says so instead of pretending."""

from __future__ import annotations

import sys


def main() -> int:
    print("vk-provider-aci: not implemented yet (issue #7); use vk-provider-mock for now", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
