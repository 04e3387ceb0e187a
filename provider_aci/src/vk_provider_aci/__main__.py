"""vk-provider-aci: the SDK's command line with the ACI flags (``config.py``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vk_provider_aci import config
from vk_provider_aci.provider import AciProvider
from vk_provider_sdk import cli


def make_provider(args: argparse.Namespace) -> AciProvider:
    return AciProvider(config.from_args(args))


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(
        make_provider,
        argv,
        prog="vk-provider-aci",
        description="A virtual-kubelet provider that runs pods as Azure Container Instances container groups.",
        add_arguments=config.add_arguments,
    )


if __name__ == "__main__":
    sys.exit(main())
