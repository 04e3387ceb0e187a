"""A provider's own flags, declared the same way by every provider (the common server flags are in ``cli.py``).

Each flag can also be set by an environment variable ``VK_<PROVIDER>_<FLAG>`` (``--resource-group`` of the ``ACI``
provider is ``VK_ACI_RESOURCE_GROUP``); the flag wins. Values stay strings until the provider's ``from_args``
checks them all, collecting one sentence per mistake, so every mistake is reported at once.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping


def env_name(prefix: str, flag: str) -> str:
    """``("ACI", "resource-group")`` -> ``VK_ACI_RESOURCE_GROUP``."""
    return f"VK_{prefix}_" + flag.upper().replace("-", "_")


def add_env_flags(group: argparse._ArgumentGroup, prefix: str, helps: Mapping[str, str]) -> None:
    """One ``--flag`` per entry of ``helps`` (in its order), defaulting to its environment variable."""
    for flag, text in helps.items():
        group.add_argument(f"--{flag}", default=os.environ.get(env_name(prefix, flag)), help=text)


def add_env_list_flag(group: argparse._ArgumentGroup, prefix: str, flag: str, *, env: str, help: str) -> None:
    """A repeatable ``--flag``; its default is the comma-separated variable ``VK_<PREFIX>_<ENV>``."""
    default = [item for item in (os.environ.get(env_name(prefix, env)) or "").split(",") if item]
    group.add_argument(f"--{flag}", action="append", default=default, help=help)


def split_list(text: str | None) -> tuple[str, ...]:
    """A comma-separated flag value as its non-empty, stripped items."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def parse_seconds(
    text: str | None, flag: str, default: float, problems: list[str], *, low: float = 0.05, high: float = 300.0
) -> float:
    """A number of seconds between ``low`` and ``high``; ``default`` when unset; a sentence in ``problems`` if not."""
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        problems.append(f"--{flag}: {text!r} is not a number of seconds")
        return default
    if not low <= value <= high:
        problems.append(f"--{flag}: {value:g} is outside {low:g} to {high:g} seconds")
    return value


__all__ = ["add_env_flags", "add_env_list_flag", "env_name", "parse_seconds", "split_list"]
