"""vk-provider-fargate: runs pods on AWS Fargate.

Not built yet (issue #6): the entry point says so instead of pretending."""

from __future__ import annotations

import sys


def main() -> int:
    print("vk-provider-fargate: not implemented yet (issue #6); use vk-provider-mock for now", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
