"""Kubernetes resource quantities ("500m", "1.5", "2Gi", "128M", "1e3") as exact numbers.

The API keeps quantities as strings; the protocol wants whole millicores and bytes. Parsing follows apimachinery's
``resource.ParseQuantity``: a signed decimal number, then a binary suffix (Ki ... Ei), a decimal suffix (n, u, m,
k, M, G, T, P, E) or a decimal exponent (e3, E-2). ``K`` and ``mi`` are not suffixes. Values are exact (a
``Fraction``, never a float) and, as in Kubernetes, a non-zero amount is rounded away from zero to a whole nano
unit, and conversions to whole units (``milli_value``, ``value``) round up: a container that asks for a little of
something gets a little, never nothing.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_GRAMMAR = re.compile(
    r"(?P<sign>[+-]?)(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_MAX_EXPONENT = 1000  # far beyond any int64 amount; stops "1e999999999" from building a huge integer
_NANO = Fraction(1, 10**9)

Quantity = str | int | float


class InvalidQuantity(ValueError):
    """The text is not a Kubernetes quantity."""


def _away_from_zero(value: Fraction) -> int:
    return math.ceil(value) if value >= 0 else math.floor(value)


def parse(quantity: Quantity) -> Fraction:
    """The exact amount a quantity stands for: ``parse("1.5Gi") == 1610612736``, ``parse("250m") == Fraction(1, 4)``.

    Numbers (as a JSON document may carry them) are read as their decimal text.
    """
    text = quantity if isinstance(quantity, str) else str(quantity)
    match = _GRAMMAR.fullmatch(text)
    if match is None or not (match["whole"] or match["fraction"]):
        raise InvalidQuantity(f"{text!r} is not a quantity (e.g. 500m, 1.5, 2Gi, 128M, 1e3)")
    fraction = match["fraction"] or ""
    amount = Fraction(int((match["whole"] or "0") + fraction), 10 ** len(fraction))
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        amount *= 2 ** _BINARY[suffix]
    else:
        exponent = _DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:])
        if abs(exponent) > _MAX_EXPONENT:
            raise InvalidQuantity(f"{text!r}: exponent out of range")
        amount *= Fraction(10) ** exponent
    if match["sign"] == "-":
        amount = -amount
    return _away_from_zero(amount / _NANO) * _NANO


def milli_value(quantity: Quantity) -> int:
    """Thousandths, rounded up as ``Quantity.MilliValue()``: ``milli_value("0.1m") == 1``, ``("2") == 2000``."""
    return _away_from_zero(parse(quantity) * 1000)


def value(quantity: Quantity) -> int:
    """Whole units, rounded up as ``Quantity.Value()``: ``value("1.5") == 2``, ``value("1Ki") == 1024``."""
    return _away_from_zero(parse(quantity))
