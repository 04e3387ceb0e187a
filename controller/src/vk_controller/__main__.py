"""vk-controller's command line. The controller itself arrives with the controller-core issue (#3)."""

from __future__ import annotations

import sys


def main() -> int:
    print("vk-controller: not implemented yet (issue #3)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
