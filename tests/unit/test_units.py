"""A unit parses and shows amounts at its own scale."""

from __future__ import annotations

import pytest

from postmeter.domain.errors import InvalidAmount
from postmeter.domain.units import Unit

EMAIL = Unit("email", "E-mail credits", 0)
SMS = Unit("sms", "SMS credits", 2)


def test_units_parse_and_format_at_their_scale() -> None:
    assert (EMAIL.parse("250"), EMAIL.format(250)) == (250, "250")
    assert (SMS.parse("1.5"), SMS.format(150)) == (150, "1.50")
    assert SMS.parse("0", allow_zero=True) == 0


def test_an_email_credit_cannot_be_split() -> None:
    with pytest.raises(InvalidAmount, match="more decimals"):
        EMAIL.parse("0.5")


def test_policies_are_off_by_default() -> None:
    assert (EMAIL.extend_on_purchase, EMAIL.signup_credits, EMAIL.signup_days) == (False, 0, None)
