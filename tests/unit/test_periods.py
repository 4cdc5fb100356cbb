"""Plan periods: rolling N days from the subscription instant, or monthly on an anchor day."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.errors import InvalidInput
from postmeter.domain.periods import MONTHLY, ROLLING, add_months, monthly, rolling, zone

US = timedelta(microseconds=1)
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(name: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """The UTC instant of a wall-clock time in zone ``name``."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(name)).astimezone(UTC)


# -- rolling ------------------------------------------------------------------------------------


def test_rolling_periods_are_exact_multiples_of_days_from_the_subscription_instant() -> None:
    start = utc(2026, 4, 1, 9, 30, 15)
    rule = rolling(start, 30)
    assert rule.kind == ROLLING
    assert [rule.boundary(k) for k in range(4)] == [
        start + timedelta(days=30 * k) for k in range(4)
    ]
    assert rule.period(2).start_at == utc(2026, 5, 31, 9, 30, 15)
    assert rule.period(2).end_at == utc(2026, 6, 30, 9, 30, 15)


def test_rolling_periods_ignore_daylight_saving_time() -> None:
    # 30 days of 24 hours, even when Paris moves its clocks inside the period.
    rule = rolling(utc(2026, 3, 15, 9), 30, "Europe/Paris")
    assert rule.boundary(1) == utc(2026, 4, 14, 9)


@pytest.mark.parametrize(
    ("offset", "index"),
    [
        (timedelta(days=-1), 0),  # before the start
        (timedelta(0), 0),
        (timedelta(days=30) - US, 0),
        (timedelta(days=30), 1),
        (timedelta(days=60) - US, 1),
        (timedelta(days=60), 2),
        (timedelta(days=95), 3),
    ],
)
def test_rolling_index_at_exact_boundaries(offset: timedelta, index: int) -> None:
    start = utc(2026, 4, 1, 9)
    assert rolling(start, 30).index_at(start + offset) == index


@pytest.mark.parametrize("days", [0, -1])
def test_a_rolling_period_lasts_at_least_a_day(days: int) -> None:
    with pytest.raises(InvalidInput, match="at least one day"):
        rolling(utc(2026, 4, 1), days)


# -- monthly ------------------------------------------------------------------------------------


def test_monthly_periods_start_at_local_midnight_on_the_anchor_day_across_dst() -> None:
    # Paris: CET (+01:00) in winter, CEST (+02:00) from March 29 to October 25, 2026.
    rule = monthly(utc(2026, 3, 20, 12), 12, "Europe/Paris")
    assert rule.kind == MONTHLY
    assert [rule.boundary(k) for k in (1, 2, 7, 8)] == [
        utc(2026, 4, 11, 22),
        utc(2026, 5, 11, 22),
        utc(2026, 10, 11, 22),
        utc(2026, 11, 11, 23),
    ]


def test_monthly_boundaries_follow_new_york_across_its_dst_change() -> None:
    rule = monthly(utc(2026, 2, 15), 1, "America/New_York")
    assert rule.boundary(1) == utc(2026, 3, 1, 5)  # EST, -05:00
    assert rule.boundary(2) == utc(2026, 4, 1, 4)  # EDT, -04:00
    assert rule.boundary(2) - rule.boundary(1) == timedelta(days=31, hours=-1)


@pytest.mark.parametrize(
    ("start", "anchor", "first"),
    [
        # Before the anchor day in the month: the first renewal is this month.
        (utc(2026, 4, 9, 12), 12, utc(2026, 4, 12)),
        # On the anchor day after midnight: next month.
        (utc(2026, 4, 12, 0, 0, 1), 12, utc(2026, 5, 12)),
        # Exactly at the anchor's midnight: period 0 is a whole month.
        (utc(2026, 4, 12), 12, utc(2026, 5, 12)),
        # After the anchor day: next month.
        (utc(2026, 4, 20), 12, utc(2026, 5, 12)),
        # December rolls over into January.
        (utc(2026, 12, 20), 5, utc(2027, 1, 5)),
    ],
)
def test_the_first_renewal_is_the_first_anchor_day_after_the_start(
    start: datetime, anchor: int, first: datetime
) -> None:
    rule = monthly(start, anchor, "UTC")
    assert rule.boundary(0) == start
    assert rule.boundary(1) == first


@pytest.mark.parametrize(
    ("start", "anchor", "boundaries"),
    [
        (
            utc(2027, 1, 31),
            31,
            [utc(2027, 2, 28), utc(2027, 3, 31), utc(2027, 4, 30), utc(2027, 5, 31)],
        ),
        (utc(2028, 1, 31), 31, [utc(2028, 2, 29), utc(2028, 3, 31), utc(2028, 4, 30)]),
        (utc(2027, 1, 30), 30, [utc(2027, 2, 28), utc(2027, 3, 30)]),
        (utc(2028, 1, 29, 1), 29, [utc(2028, 2, 29), utc(2028, 3, 29)]),
        (utc(2100, 1, 29, 1), 29, [utc(2100, 2, 28), utc(2100, 3, 29)]),  # 2100 is not leap
    ],
)
def test_an_anchor_past_the_months_end_clamps_each_month_without_drifting(
    start: datetime, anchor: int, boundaries: list[datetime]
) -> None:
    rule = monthly(start, anchor, "UTC")
    assert [rule.boundary(k + 1) for k in range(len(boundaries))] == boundaries


def test_monthly_index_at_exact_boundaries() -> None:
    rule = monthly(utc(2026, 1, 20, 15), 31, "Europe/Paris")
    assert rule.index_at(utc(2026, 1, 1)) == 0  # before the start
    assert rule.index_at(rule.boundary(0)) == 0
    for k in range(1, 30):
        assert rule.index_at(rule.boundary(k) - US) == k - 1
        assert rule.index_at(rule.boundary(k)) == k
        assert rule.period(k).end_at == rule.period(k + 1).start_at


@pytest.mark.parametrize("anchor", [0, 32, -1])
def test_the_anchor_is_a_day_of_the_month(anchor: int) -> None:
    with pytest.raises(InvalidInput, match="anchor day"):
        monthly(utc(2026, 4, 1), anchor, "UTC")


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "utc", "../../etc/passwd", "Europe/"])
def test_unknown_time_zones_are_refused_clearly(name: str) -> None:
    with pytest.raises(InvalidInput, match="unknown time zone"):
        zone(name)
    with pytest.raises(InvalidInput):
        monthly(utc(2026, 4, 1), 1, name)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        rolling(datetime(2026, 4, 1), 30)


@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
    anchor=st.integers(1, 31),
    name=st.sampled_from(ZONES),
)
def test_monthly_boundaries_are_local_midnights_on_the_clamped_anchor_of_successive_months(
    start: datetime, anchor: int, name: str
) -> None:
    rule = monthly(start.replace(tzinfo=UTC), anchor, name)
    tz = ZoneInfo(name)
    previous = rule.boundary(0)
    months = []
    for k in range(1, 15):
        boundary = rule.boundary(k)
        assert boundary > previous
        there = boundary.astimezone(tz)
        assert (there.hour, there.minute, there.second) == (0, 0, 0)
        assert there.day == min(anchor, calendar.monthrange(there.year, there.month)[1])
        months.append(there.year * 12 + there.month)
        assert rule.index_at(boundary) == k
        assert rule.index_at(boundary - US) == k - 1
        previous = boundary
    assert months == list(range(months[0], months[0] + len(months)))
    assert rule.boundary(1) - rule.boundary(0) <= timedelta(days=32)


# -- calendar months for package validity ------------------------------------------------


@pytest.mark.parametrize(
    ("when", "months", "name", "expected"),
    [
        # DirectMail: six months.
        (utc(2026, 4, 1, 9), 6, "UTC", utc(2026, 10, 1, 9)),
        # SMS platform: two years.
        (utc(2026, 4, 1, 9), 24, "UTC", utc(2028, 4, 1, 9)),
        # The day is clamped to the end of a shorter month.
        (utc(2026, 8, 31, 12), 6, "UTC", utc(2027, 2, 28, 12)),
        (utc(2027, 8, 31, 12), 6, "UTC", utc(2028, 2, 29, 12)),
        # Wall-clock time is kept in the account's zone across DST (10:00 CET -> 10:00 CEST).
        (local("Europe/Paris", 2026, 3, 1, 10), 6, "Europe/Paris", utc(2026, 9, 1, 8)),
        # The local date decides: 23:30 UTC on Jan 31 is already Feb 1 in Paris.
        (utc(2026, 1, 31, 23, 30), 1, "Europe/Paris", local("Europe/Paris", 2026, 3, 1, 0, 30)),
        (utc(2026, 1, 31, 23, 30), 1, "UTC", utc(2026, 2, 28, 23, 30)),
        (utc(2026, 4, 1, 9), 0, "UTC", utc(2026, 4, 1, 9)),
    ],
)
def test_add_months_moves_calendar_months_in_the_accounts_zone(
    when: datetime, months: int, name: str, expected: datetime
) -> None:
    assert add_months(when, months, name) == expected
