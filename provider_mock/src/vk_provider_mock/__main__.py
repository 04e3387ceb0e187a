"""vk-provider-mock: the SDK's command line with the mock's flags (``config.py``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vk_provider_mock import config
from vk_provider_mock.provider import MockProvider
from vk_provider_sdk import cli


def make_provider(args: argparse.Namespace) -> MockProvider:
    return MockProvider(config.from_args(args))


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(
        make_provider,
        argv,
        prog="vk-provider-mock",
        description="An in-memory, scriptable virtual-kubelet provider: runs pods on nothing, deterministically.",
        add_arguments=config.add_arguments,
    )


if __name__ == "__main__":
    sys.exit(main())
