"""vk-conformance: run the provider conformance checks against a provider, by address.

    vk-conformance --target 127.0.0.1:50051 [--tls-ca ca.pem --tls-cert client.pem --tls-key client-key.pem]
                   [--hook my_tests.backend:Hook] [--timeout 60] [--node-name vk-conformance] [pytest args: -k -x -v]

The exit code is pytest's: 0 when every check passed or was skipped because the provider does not declare the
capability, non-zero otherwise. The run uses the kit's own pytest configuration, never the current directory's,
so a provider repository's pytest settings cannot change what is checked.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from vk_conformance import KIT_PROTOCOL_VERSION, __version__, checks
from vk_conformance.connection import DEFAULT_NODE_NAME, DEFAULT_TIMEOUT


def _parser() -> argparse.ArgumentParser:
    major, minor = KIT_PROTOCOL_VERSION
    parser = argparse.ArgumentParser(
        prog="vk-conformance",
        description=f"Check a virtual-kubelet provider against protocol virtualkubelet.provider.v1 ({major}.{minor}).",
        epilog="Any other argument goes to pytest, e.g. -k exec -x -v.",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--version", action="version", version=f"vk-conformance {__version__} (protocol {major}.{minor})"
    )
    parser.add_argument("--target", required=True, help="the provider's address: host:port or unix:/path")
    parser.add_argument("--tls-ca", type=Path, help="CA certificate (PEM) to verify the provider")
    parser.add_argument("--tls-cert", type=Path, help="client certificate (PEM) for mTLS")
    parser.add_argument("--tls-key", type=Path, help="client private key (PEM) for mTLS")
    parser.add_argument("--hook", metavar="MODULE:ATTR", help="a hook that scripts a simulated backend's outcomes")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds any single wait may take (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--node-name",
        default=DEFAULT_NODE_NAME,
        help=f"node name sent in Handshake (default {DEFAULT_NODE_NAME}); keep it stable across runs",
    )
    return parser


def pytest_args(argv: Sequence[str]) -> list[str]:
    """The pytest command line for ``vk-conformance`` with ``argv``."""
    options, passthrough = _parser().parse_known_args(argv)
    checks_dir = str(Path(checks.__file__).parent)
    args = [
        "-c",
        str(Path(checks_dir, "pytest.ini")),  # the kit's settings only, never the current directory's
        "--rootdir",
        checks_dir,
        "--confcutdir",
        checks_dir,
        "-p",
        "no:cacheprovider",
        "-p",
        "vk_conformance.plugin",
        "-ra",
        "--target",
        options.target,
        "--node-name",
        options.node_name,
        "--wait-timeout",
        str(options.timeout),
    ]
    for flag, value in (
        ("--tls-ca", options.tls_ca),
        ("--tls-cert", options.tls_cert),
        ("--tls-key", options.tls_key),
        ("--hook", options.hook),
    ):
        if value is not None:
            args += [flag, str(value)]
    if not any(arg == "--tb" or arg.startswith("--tb=") for arg in passthrough):
        args.append("--tb=short")
    return [*args, *passthrough, "--pyargs", "vk_conformance.checks"]


def main(argv: Sequence[str] | None = None) -> int:
    args = pytest_args(sys.argv[1:] if argv is None else argv)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # --hook modules are found from the current directory, as with python -m
    return int(pytest.main(args))


if __name__ == "__main__":
    sys.exit(main())
