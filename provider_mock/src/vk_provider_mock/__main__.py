"""vk-provider-mock: runs pods on memory. Not built yet (issue #3); the entry point says so instead of pretending."""

from __future__ import annotations

import sys


def main() -> int:
    print("vk-provider-mock: not implemented yet (issue #3); use vk-provider-mock for now", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
