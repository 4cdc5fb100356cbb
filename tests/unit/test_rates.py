"""Rate cards: versions by date, a default for the rest, and CSV in and out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.amounts import MAX_CREDITS
from postmeter.domain.errors import InvalidAmount, InvalidInput
from postmeter.domain.phones import COUNTRIES
from postmeter.domain.rates import RateCard, RateCardVersion, format_rates_csv, parse_rates_csv

JAN = datetime(2026, 1, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
JUN = datetime(2026, 6, 1, tzinfo=UTC)
SMS_SCALE = 2  # hundredths of a credit


def _card() -> RateCard:
    # Given out of order on purpose: the card sorts its versions by date.
    return RateCard(
        "sms",
        (
            RateCardVersion(JUN, {"FR": 60}),
            RateCardVersion(JAN, {"FR": 75}),
            RateCardVersion(MAR, {"FR": 70}),
        ),
    )


@pytest.mark.parametrize(
    ("at", "fr_rate"),
    [
        (JAN, 75),
        (MAR - timedelta(microseconds=1), 75),
        (MAR, 70),  # a version is in force from its very instant
        (datetime(2026, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))), 75),  # 23:00 UTC
        (JUN + timedelta(days=3650), 60),
    ],
)
def test_a_send_is_priced_by_the_version_in_force_at_that_instant(
    at: datetime, fr_rate: int
) -> None:
    version = _card().in_force(at)
    assert version is not None
    assert version.rate_for("FR") == fr_rate


def test_before_the_first_version_nothing_is_in_force() -> None:
    assert _card().in_force(JAN - timedelta(seconds=1)) is None


def test_the_versions_are_kept_in_date_order() -> None:
    assert [v.effective_from for v in _card().versions] == [JAN, MAR, JUN]


def test_two_versions_may_not_take_effect_at_the_same_instant() -> None:
    same_instant = datetime(2026, 3, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    with pytest.raises(InvalidInput, match="two versions"):
        RateCard(
            "sms", (RateCardVersion(MAR, {"FR": 70}), RateCardVersion(same_instant, {"FR": 71}))
        )


def test_instants_must_say_their_offset() -> None:
    with pytest.raises(InvalidInput, match="no time zone"):
        RateCardVersion(datetime(2026, 1, 1), {"FR": 75})
    with pytest.raises(InvalidInput, match="no time zone"):
        _card().in_force(datetime(2026, 1, 1))


def test_the_default_rate_covers_the_countries_the_card_does_not_name() -> None:
    version = RateCardVersion(JAN, {"FR": 75}, default=125)
    assert (version.rate_for("FR"), version.rate_for("BR")) == (75, 125)
    assert RateCardVersion(JAN, {"FR": 75}).rate_for("BR") is None
    assert RateCardVersion(JAN, {}, default=125).rate_for("JP") == 125


@pytest.mark.parametrize(
    ("rates", "default", "error", "message"),
    [
        ({"FR": 0}, None, InvalidAmount, "rate for FR: amount must be greater than zero"),
        ({"FR": -5}, None, InvalidAmount, "rate for FR"),
        ({"FR": MAX_CREDITS + 1}, None, InvalidAmount, "larger than"),
        ({"FR": True}, None, InvalidAmount, "integer number of steps"),
        ({"FR": 75}, 0, InvalidAmount, "rate for the default"),
        ({"XX": 75}, None, InvalidInput, "'XX' is not a country code"),
        ({"fr": 75}, None, InvalidInput, "'fr' is not a country code"),
        ({}, None, InvalidInput, "at least one country or a default"),
    ],
)
def test_a_version_refuses_bad_rates(
    rates: dict[str, int], default: int | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RateCardVersion(JAN, rates, default)


def test_a_version_does_not_change_once_made() -> None:
    given = {"FR": 75}
    version = RateCardVersion(JAN, given)
    given["FR"] = 1
    assert version.rate_for("FR") == 75
    with pytest.raises(TypeError):
        version.rates["FR"] = 1  # type: ignore[index]


def test_csv_reads_countries_and_the_default_in_the_units_decimals() -> None:
    text = "\ufeffCountry, Credits\r\nfr,0.75\n\nDE , 1\ndefault,1.25\n"
    version = parse_rates_csv(text, SMS_SCALE, JAN)
    assert version == RateCardVersion(JAN, {"FR": 75, "DE": 100}, default=125)


def test_csv_needs_no_header() -> None:
    version = parse_rates_csv("FR,0.75\n*,1.25", SMS_SCALE, JAN)
    assert (dict(version.rates), version.default) == ({"FR": 75}, 125)


def test_csv_writes_a_header_the_countries_in_order_and_the_default_last() -> None:
    version = RateCardVersion(JAN, {"FR": 75, "BR": 5, "DE": 100}, default=125)
    assert format_rates_csv(version, SMS_SCALE) == (
        "country,credits\nBR,0.05\nDE,1.00\nFR,0.75\n*,1.25\n"
    )
    assert format_rates_csv(version, 0) == "country,credits\nBR,5\nDE,100\nFR,75\n*,125\n"


_RATES = st.dictionaries(
    st.sampled_from(sorted(COUNTRIES)), st.integers(1, MAX_CREDITS), min_size=1, max_size=30
)


@given(_RATES, st.none() | st.integers(1, MAX_CREDITS), st.integers(0, 9))
def test_csv_round_trips(rates: dict[str, int], default: int | None, scale: int) -> None:
    version = RateCardVersion(JAN, rates, default)
    assert parse_rates_csv(format_rates_csv(version, scale), scale, JAN) == version


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FR,0.75\nDE,1\nFR,0.80", "line 3: FR already has a rate, on line 1"),
        ("*,1\ndefault,2", "line 2: the default already has a rate, on line 1"),
        ("country,credits\nXX,1", "line 2: 'XX' is not a country code"),
        ("FRA,1", "line 1: 'FRA' is not a country code"),
        ("FR", r"line 1: expected 2 columns \(country,credits\), found 1"),
        ("FR,1,2", "line 1: expected 2 columns"),
        ("FR,0", r"line 1 \(FR\): amount must be greater than zero"),
        ("FR,-1.25", r"line 1 \(FR\): amount must be greater than zero"),
        ("FR,1.255", "line 1 .*more decimals than the unit allows"),
        ("FR,92233720368547758.08", "line 1 .*larger than 2\\^63 - 1"),
        ("FR,1e3", "line 1 .*not a decimal number"),
        ("FR,", "line 1 .*not a decimal number"),
        ("FR,0.75\n\n\nDE,abc", "line 4 .*'abc' is not a decimal number"),
        ('FR,"1\n', "line 1: unexpected end of data"),
        ("", "at least one country or a default"),
        ("country,credits\n", "at least one country or a default"),
    ],
)
def test_bad_csv_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_rates_csv(text, SMS_SCALE, JAN)
