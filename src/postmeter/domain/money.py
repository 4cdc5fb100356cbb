"""Prices: integers of a currency's minor unit (cents), parsed from exact decimals."""

from __future__ import annotations

from postmeter.domain.amounts import parse_credits
from postmeter.domain.errors import InvalidAmount
from postmeter.domain.validate import check_currency

# ISO 4217 minor units where they are not 2.
_EXPONENTS = {
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "HUF": 2,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "JOD": 3,
}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(check_currency(currency), 2)


def parse_price(text: str, currency: str) -> int:
    """``parse_price("49.90", "EUR") == 4990``; zero is a valid price (a free package)."""
    try:
        return parse_credits(text, exponent(currency), allow_zero=True)
    except InvalidAmount as exc:
        raise InvalidAmount(f"price {text!r}: {exc.message}", value=text) from exc


def cheaper_per_credit(price_a: int, credits_a: int, price_b: int, credits_b: int) -> bool:
    """Whether A costs no more per credit than B, compared exactly (no division)."""
    return price_a * credits_b <= price_b * credits_a
