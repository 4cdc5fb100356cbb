"""Pricing a send: parts x recipients x each country's rate, and what cannot be priced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from postmeter.domain.amounts import MAX_CREDITS
from postmeter.domain.errors import InvalidAmount, InvalidInput, Unratable
from postmeter.domain.rates import RateCard, RateCardVersion
from postmeter.domain.rating import QuoteLine, Refusal, email_credits, quote_sms, sms_per_package

JAN = datetime(2026, 1, 1, tzinfo=UTC)
CREDIT = 100  # the sms unit counts hundredths
# Credits per part: 1.00 to France, 1.20 to Germany, 0.50 to Brazil, 0.25 to India, 0.80 to the US.
RATES = RateCardVersion(JAN, {"FR": 100, "DE": 120, "BR": 50, "IN": 25, "US": 80})
TWO_PARTS = "Your parcel is on its way. " * 6  # 162 GSM-7 characters

FR1, FR2, FR3 = "+33612345678", "+33612345679", "+33 7 81 23 45 67"
DE1, DE2 = "+4915123456789", "+49 30 123456"
BR1, BR2 = "+5511961234567", "+55 21 98765-4321"
IN1, IN2 = "+918123456789", "+91 98765 43210"
US1 = "+1 201-555-0123"
JP1 = "+81 90-1234-5678"
GB1 = "+44 7400 123456"


def test_ten_recipients_in_several_countries_cost_more_than_ten_credits() -> None:
    numbers = [FR1, FR2, FR3, DE1, DE2, BR1, BR2, IN1, IN2, US1]
    quote = quote_sms(TWO_PARTS, numbers, RATES)
    assert quote.segments.count == 2
    assert quote.lines == (
        QuoteLine("BR", recipients=2, parts=4, rate=50, credits=200),
        QuoteLine("DE", recipients=2, parts=4, rate=120, credits=480),
        QuoteLine("FR", recipients=3, parts=6, rate=100, credits=600),
        QuoteLine("IN", recipients=2, parts=4, rate=25, credits=100),
        QuoteLine("US", recipients=1, parts=2, rate=80, credits=160),
    )
    assert quote.credits == 1540
    assert quote.credits > 10 * CREDIT
    assert quote.recipients == 10
    assert quote.refused == ()


def test_a_single_part_message_costs_the_rate_per_recipient() -> None:
    quote = quote_sms("Hi", [FR1, FR2, US1], RATES)
    assert quote.credits == 100 + 100 + 80
    assert [(line.country, line.parts) for line in quote.lines] == [("FR", 2), ("US", 1)]


def test_numbers_without_a_rate_refuse_the_whole_send_and_are_all_listed() -> None:
    numbers = [FR1, JP1, "+33 6 12", US1, GB1, "+800 1234 5678"]
    with pytest.raises(Unratable) as refused:
        quote_sms("Hi", numbers, RATES)
    assert refused.value.code == "unratable"
    assert refused.value.details["recipients"] == [
        {"number": JP1, "reason": "no_rate", "country": "JP"},
        {"number": "+33 6 12", "reason": "invalid_number"},
        {"number": GB1, "reason": "no_rate", "country": "GB"},
        {"number": "+800 1234 5678", "reason": "unknown_country"},
    ]
    assert refused.value.message.startswith("4 of 6 recipients cannot be priced: ")
    assert f"{JP1} (no rate for JP)" in refused.value.message
    assert "+33 6 12 (not a valid phone number)" in refused.value.message


def test_a_long_refusal_names_a_few_numbers_and_lists_them_all_in_the_details() -> None:
    numbers = [f"+81 90-1234-{n:04d}" for n in range(8)]
    with pytest.raises(Unratable, match=r"8 of 8 recipients .*; and 3 more$") as refused:
        quote_sms("Hi", numbers, RATES)
    assert len(refused.value.details["recipients"]) == 8


def test_partial_prices_the_numbers_it_can_and_lists_the_others() -> None:
    quote = quote_sms("Hi", [FR1, JP1, "hello", US1], RATES, partial=True)
    assert quote.credits == 180
    assert [line.country for line in quote.lines] == ["FR", "US"]
    assert quote.refused == (
        Refusal(JP1, "no_rate", "JP"),
        Refusal("hello", "invalid_number"),
    )


def test_partial_with_nothing_to_price_costs_nothing() -> None:
    quote = quote_sms("Hi", [JP1], RATES, partial=True)
    assert (quote.credits, quote.lines, quote.refused) == (0, (), (Refusal(JP1, "no_rate", "JP"),))


def test_a_default_rate_prices_every_country() -> None:
    with_default = RateCardVersion(JAN, {"FR": 100}, default=150)
    quote = quote_sms("Hi", [FR1, JP1, GB1], with_default)
    assert [(line.country, line.rate) for line in quote.lines] == [
        ("FR", 100),
        ("GB", 150),
        ("JP", 150),
    ]
    assert quote.credits == 400


def test_national_numbers_are_read_for_the_default_region() -> None:
    quote = quote_sms("Hi", ["06 12 34 56 78", "07 81 23 45 67", US1], RATES, default_region="fr")
    assert [(line.country, line.recipients) for line in quote.lines] == [("FR", 2), ("US", 1)]
    with pytest.raises(Unratable):
        quote_sms("Hi", ["06 12 34 56 78"], RATES)  # no region: a national number means nothing
    with pytest.raises(InvalidInput, match="not a country code"):
        quote_sms("Hi", [FR1], RATES, default_region="XX")


def test_the_price_follows_the_card_version_in_force() -> None:
    card = RateCard(
        "sms",
        (RATES, RateCardVersion(datetime(2026, 7, 1, tzinfo=UTC), {"FR": 90, "US": 80})),
    )
    before = card.in_force(datetime(2026, 6, 30, 23, 59, tzinfo=UTC))
    after = card.in_force(datetime(2026, 7, 1, tzinfo=UTC))
    assert before is not None
    assert after is not None
    assert quote_sms("Hi", [FR1, FR2], before).credits == 200
    assert quote_sms("Hi", [FR1, FR2], after).credits == 180


@pytest.mark.parametrize(
    ("text", "numbers", "message"),
    [
        ("", [FR1], "must not be empty"),
        ("Hi", [], "at least one recipient"),
    ],
)
def test_a_send_needs_a_text_and_recipients(text: str, numbers: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        quote_sms(text, numbers, RATES)


def test_a_send_too_dear_for_64_bits_is_refused() -> None:
    dear = RateCardVersion(JAN, {"FR": MAX_CREDITS})
    assert quote_sms("Hi", [FR1], dear).credits == MAX_CREDITS
    with pytest.raises(InvalidInput, match="more than 2\\^63 - 1"):
        quote_sms("Hi", [FR1, FR2], dear)


def test_each_package_buys_its_credits_over_the_rate_in_single_part_sms() -> None:
    rates = RateCardVersion(JAN, {"FR": 75, "DE": 120}, default=150)
    table = sms_per_package({"starter": 1_000, "pro": 5_000}, rates)
    assert table == {
        "starter": {"DE": 8, "FR": 13, "*": 6},
        "pro": {"DE": 41, "FR": 66, "*": 33},
    }


def test_a_package_too_small_for_one_sms_buys_none() -> None:
    assert sms_per_package({"crumb": 74}, RateCardVersion(JAN, {"FR": 75})) == {"crumb": {"FR": 0}}


@pytest.mark.parametrize(
    ("recipients", "scale", "account_rate", "plan_rate", "credits"),
    [
        (250, 0, None, None, 250),  # one credit each by default
        (250, 2, None, None, 25_000),  # one credit is a hundred steps at scale 2
        (250, 0, None, 2, 500),  # the plan's rate
        (250, 0, 3, 2, 750),  # the account's rate wins over its plan's
        (1, 2, 50, None, 50),  # half a credit
    ],
)
def test_an_email_costs_its_rate_per_recipient(
    recipients: int, scale: int, account_rate: int | None, plan_rate: int | None, credits: int
) -> None:
    assert (
        email_credits(recipients, scale, account_rate=account_rate, plan_rate=plan_rate) == credits
    )


def test_an_email_needs_recipients_and_a_positive_rate() -> None:
    with pytest.raises(InvalidInput, match="at least one recipient"):
        email_credits(0, 0)
    with pytest.raises(InvalidAmount, match="greater than zero"):
        email_credits(10, 0, plan_rate=0)
    with pytest.raises(InvalidInput, match="more than 2\\^63 - 1"):
        email_credits(2, 0, account_rate=MAX_CREDITS)
