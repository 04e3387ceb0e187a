"""The ``--capacity`` flag every provider offers: ``resource=quantity`` pairs over the provider's defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: A Kubernetes quantity: a decimal number with an optional exponent or suffix (``500m``, ``64Gi``, ``1e3``).
QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$")


def parse_capacity(text: str, defaults: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    """``cpu=100,memory=64Gi`` over ``defaults``; each malformed pair adds a sentence to ``problems``."""
    capacity = dict(defaults)
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key or not QUANTITY.match(value):
            problems.append(f"--capacity: {item!r} is not resource=quantity (e.g. memory=64Gi)")
        else:
            capacity[key] = value
    return capacity
