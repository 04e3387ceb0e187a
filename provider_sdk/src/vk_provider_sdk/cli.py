"""The command line every Python provider shares: the same flags, logging, readiness line and signal handling.

A provider's ``__main__`` is one call::

    def main() -> int:
        return cli.run(make_provider, prog="vk-provider-x", add_arguments=add_my_flags)

Common flags (each also read from an environment variable, shown in ``--help``):

- ``--listen`` (``VK_PROVIDER_LISTEN``, default ``127.0.0.1:50051``): ``host:port`` (port 0 picks a free one) or
  ``unix:/path``;
- ``--tls-cert``/``--tls-key`` (``VK_PROVIDER_TLS_CERT``/``_KEY``) and ``--tls-client-ca`` (mTLS), re-read when
  they change: each new connection uses their current contents (rotation without a restart);
- ``--log-level`` (``VK_PROVIDER_LOG_LEVEL``, default ``info``), logs go to stderr;
- ``--grace-period`` (``VK_PROVIDER_GRACE_PERIOD``, default 10 s) for the graceful stop on SIGTERM/SIGINT.

Tracing follows the standard ``OTEL_*`` environment (off by default; see ``tracing.py``), with the program's name
as the default ``service.name``.

Once the server accepts calls, exactly one line ``listening on ADDRESS`` (with the real port) is printed to
stdout and flushed, whatever the log level: supervisors and tests wait for it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from vk_provider_sdk import eventloop, tracing
from vk_provider_sdk.provider import Provider
from vk_provider_sdk.server import ProviderServer, TLSFiles, check_listen_address

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:50051"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _env(flag: str) -> str | None:
    return os.environ.get("VK_PROVIDER_" + flag.upper().replace("-", "_"))


def build_parser(prog: str, description: str | None = None) -> argparse.ArgumentParser:
    """The parser with the common flags; providers add theirs to it."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    group = parser.add_argument_group("server (common to every provider)")
    group.add_argument(
        "--listen",
        default=_env("listen") or DEFAULT_LISTEN,
        help="host:port or unix:/path to serve the provider protocol on (env VK_PROVIDER_LISTEN; default %(default)s)",
    )
    group.add_argument("--tls-cert", type=Path, default=_env("tls-cert"), help="server certificate (PEM) for TLS")
    group.add_argument("--tls-key", type=Path, default=_env("tls-key"), help="server private key (PEM) for TLS")
    group.add_argument(
        "--tls-client-ca",
        type=Path,
        default=_env("tls-client-ca"),
        help="CA bundle (PEM) that client certificates must chain to; enables mTLS",
    )
    group.add_argument(
        "--log-level",
        default=_env("log-level") or "info",
        choices=["debug", "info", "warning", "error"],
        help="log level (default %(default)s)",
    )
    group.add_argument(
        "--grace-period",
        type=float,
        default=float(_env("grace-period") or 10.0),
        help="seconds in-flight calls get to finish on SIGTERM/SIGINT (default %(default)s)",
    )
    return parser


def tls_files(args: argparse.Namespace) -> TLSFiles | None:
    """The TLS files the flags name, or None; raises ValueError for an incomplete set."""
    if args.tls_cert is None and args.tls_key is None:
        if args.tls_client_ca is not None:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if args.tls_cert is None or args.tls_key is None:
        raise ValueError("--tls-cert and --tls-key go together")
    return TLSFiles(cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_client_ca)


def run(
    make_provider: Callable[[argparse.Namespace], Provider],
    argv: Sequence[str] | None = None,
    *,
    prog: str,
    description: str | None = None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """Parse flags, build the provider with ``make_provider(args)``, serve until signalled; the exit code.

    ``make_provider`` may raise ValueError for invalid provider flags: it is reported like an argparse error.
    """
    parser = build_parser(prog, description)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    try:
        check_listen_address(args.listen)
        tls = tls_files(args)
        provider = make_provider(args)
    except ValueError as error:
        parser.error(str(error))
    tracing.configure(prog)
    try:
        eventloop.run(_serve(provider, args, tls))
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError) as error:  # cannot listen, or the provider cannot start (e.g. unreadable state)
        log.error("%s", error)
        return 1
    finally:
        tracing.shutdown()
    return 0


async def _serve(provider: Provider, args: argparse.Namespace, tls: TLSFiles | None) -> None:
    server = ProviderServer(provider, listen=args.listen, tls=tls, grace_period=args.grace_period)
    address = await server.start()
    info = provider.info()
    log.info("%s %s serving %s (instance %s)", info.name, info.version, address, provider.instance_id)
    print(f"listening on {address}", flush=True)
    await server.run_until_signalled()
    log.info("stopped")


__all__ = ["DEFAULT_LISTEN", "build_parser", "run", "tls_files"]
