"""The common command line: defaults, environment variables, provider flags, TLS flag checks."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vk_provider_sdk import Provider, cli


def test_defaults_listen_on_loopback_50051(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VK_PROVIDER_LISTEN", raising=False)

    args = cli.build_parser("p").parse_args([])

    assert args.listen == "127.0.0.1:50051"
    assert args.log_level == "info"
    assert args.grace_period == 10.0
    assert cli.tls_files(args) is None


def test_the_listen_address_comes_from_the_environment_unless_a_flag_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VK_PROVIDER_LISTEN", "unix:/run/provider.sock")

    assert cli.build_parser("p").parse_args([]).listen == "unix:/run/provider.sock"
    assert cli.build_parser("p").parse_args(["--listen", "0.0.0.0:1"]).listen == "0.0.0.0:1"


def test_tls_needs_both_cert_and_key_and_a_client_ca_needs_tls() -> None:
    parser = cli.build_parser("p")

    with pytest.raises(ValueError, match="go together"):
        cli.tls_files(parser.parse_args(["--tls-cert", "c.pem"]))
    with pytest.raises(ValueError, match="needs --tls-cert"):
        cli.tls_files(parser.parse_args(["--tls-client-ca", "ca.pem"]))
    files = cli.tls_files(parser.parse_args(["--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"]))
    assert files is not None
    assert (files.cert, files.key, files.client_ca) == (Path("c.pem"), Path("k.pem"), Path("ca.pem"))


def test_a_provider_adds_its_flags_and_an_invalid_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[argparse.Namespace] = []

    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--region", required=True)

    def make(args: argparse.Namespace) -> Provider:
        seen.append(args)
        raise ValueError(f"--region: {args.region!r} is not a region")

    with pytest.raises(SystemExit) as exit_:
        cli.run(make, ["--region", "mars-1"], prog="vk-provider-test", add_arguments=add)

    assert exit_.value.code == 2
    assert seen[0].region == "mars-1"
    assert "vk-provider-test: error: --region: 'mars-1' is not a region" in capsys.readouterr().err
