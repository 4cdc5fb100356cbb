"""Prices in a currency's minor unit, and the per-credit comparison of the tiered catalogue."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.errors import InvalidAmount, InvalidInput
from postmeter.domain.money import cheaper_per_credit, exponent, parse_price


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("49.90", "EUR", 4990),
        ("49.9", "EUR", 4990),
        ("0.5", "USD", 50),
        ("1000", "JPY", 1000),
        ("1000", "KRW", 1000),
        ("1.234", "BHD", 1234),
        ("12", "KWD", 12000),
        ("0", "EUR", 0),  # a free package
        ("0.00", "EUR", 0),
    ],
)
def test_parse_price_uses_the_currencys_minor_unit(text: str, currency: str, minor: int) -> None:
    assert parse_price(text, currency) == minor


@pytest.mark.parametrize(
    ("currency", "places"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("HUF", 2), ("TND", 3)]
)
def test_exponents(currency: str, places: int) -> None:
    assert exponent(currency) == places


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("1.5", "JPY"),
        ("1.2345", "BHD"),
        ("0.001", "EUR"),
        ("-1", "EUR"),
        ("abc", "EUR"),
        ("", "EUR"),
    ],
)
def test_bad_prices_are_refused_and_say_it_is_the_price(text: str, currency: str) -> None:
    with pytest.raises(InvalidAmount, match=r"^price ") as caught:
        parse_price(text, currency)
    assert caught.value.details["value"] == text


@pytest.mark.parametrize("currency", ["eur", "EURO", "E1R", "", "€"])
def test_currencies_are_iso_4217_codes(currency: str) -> None:
    with pytest.raises(InvalidInput, match="ISO 4217"):
        parse_price("1", currency)


@pytest.mark.parametrize(
    ("a", "b", "cheaper"),
    [
        ((9000, 1000), (1000, 100), True),  # 9.00 vs 10.00 per credit
        ((10000, 1000), (1000, 100), True),  # equal is not dearer
        ((11000, 1000), (1000, 100), False),
        ((0, 1000), (1, 1), True),
        ((1, 3), (1, 2), True),  # 1/3 < 1/2, exactly
        ((2, 3), (1, 2), False),
    ],
)
def test_cheaper_per_credit_compares_exactly(
    a: tuple[int, int], b: tuple[int, int], cheaper: bool
) -> None:
    assert cheaper_per_credit(a[0], a[1], b[0], b[1]) is cheaper


@given(
    price_a=st.integers(0, 10**15),
    credits_a=st.integers(1, 10**12),
    price_b=st.integers(0, 10**15),
    credits_b=st.integers(1, 10**12),
)
def test_cheaper_per_credit_agrees_with_exact_fractions(
    price_a: int, credits_a: int, price_b: int, credits_b: int
) -> None:
    expected = Fraction(price_a, credits_a) <= Fraction(price_b, credits_b)
    assert cheaper_per_credit(price_a, credits_a, price_b, credits_b) is expected
