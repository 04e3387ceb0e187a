"""Kubernetes quantities: exact parsing of every suffix form, and rounding up to whole millicores and bytes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from vk_controller.pods import quantity


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("500m", Fraction(1, 2)),
        ("1.5", Fraction(3, 2)),
        ("2Gi", 2 * 2**30),
        ("128M", 128 * 10**6),
        ("100Ki", 102_400),
        ("1e3", 1000),
        ("1E3", 1000),
        ("1e-3", Fraction(1, 1000)),
        ("1e+2", 100),
        ("1E", 10**18),  # E alone is exa, not an exponent
        ("1Ei", 2**60),
        ("5n", Fraction(5, 10**9)),
        ("5u", Fraction(5, 10**6)),
        ("3k", 3000),
        (".5", Fraction(1, 2)),
        ("1.", 1),
        ("0.5Gi", 2**29),
        ("+7", 7),
        ("-7", -7),
        ("007", 7),
        ("0", 0),
    ],
)
def test_parse_reads_every_suffix_form(text: str, amount: Fraction | int) -> None:
    assert quantity.parse(text) == amount


def test_amounts_below_a_nano_unit_round_up_to_one_not_down_to_zero() -> None:
    assert quantity.parse("0.1n") == Fraction(1, 10**9)
    assert quantity.parse("1e-12") == Fraction(1, 10**9)
    assert quantity.parse("-0.1n") == Fraction(-1, 10**9), "away from zero, as Kubernetes rounds"


def test_numbers_from_json_are_read_as_their_decimal_text() -> None:
    assert quantity.parse(2) == 2
    assert quantity.parse(0.25) == Fraction(1, 4)


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("500m", 500),
        ("2", 2000),
        ("1.5", 1500),
        ("0.1m", 1),  # sub-millicore amounts round up: asking for a little gets a little
        ("1n", 1),
        ("1.0001", 1001),
        ("250m", 250),
        ("0", 0),
        ("1e3", 1_000_000),
    ],
)
def test_milli_value_rounds_up_to_whole_thousandths(text: str, millis: int) -> None:
    assert quantity.milli_value(text) == millis


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("128Mi", 134_217_728),
        ("128M", 128_000_000),
        ("1Ki", 1024),
        ("1.5", 2),
        ("100m", 1),
        ("1.1Mi", 1_153_434),  # 1153433.6 bytes
        ("1e3", 1000),
        ("0", 0),
    ],
)
def test_value_rounds_up_to_whole_units(text: str, units: int) -> None:
    assert quantity.value(text) == units


@pytest.mark.parametrize(
    "text",
    ["", "abc", "Gi", "1K", "1mi", "1 Gi", " 1", "1e", "1e3.5", "1.5.5", "e3", "--1", "1Gi ", "0x10"],
)
def test_text_that_is_not_a_quantity_is_refused(text: str) -> None:
    with pytest.raises(quantity.InvalidQuantity):
        quantity.parse(text)


def test_absurd_exponents_are_refused_rather_than_computed() -> None:
    with pytest.raises(quantity.InvalidQuantity, match="exponent out of range"):
        quantity.parse("1e999999999")


def test_an_invalid_quantity_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        quantity.milli_value("lots")
