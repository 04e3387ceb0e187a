"""vk-provider-fargate: the SDK's command line with the Fargate flags (``config.py``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vk_provider_fargate import config
from vk_provider_fargate.provider import FargateProvider
from vk_provider_sdk import cli


def make_provider(args: argparse.Namespace) -> FargateProvider:
    return FargateProvider(config.from_args(args))


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(
        make_provider,
        argv,
        prog="vk-provider-fargate",
        description="A virtual-kubelet provider that runs pods as AWS Fargate tasks through Amazon ECS.",
        add_arguments=config.add_arguments,
    )


if __name__ == "__main__":
    sys.exit(main())
