"""Plan periods: rolling N-day periods, or calendar months renewing on an anchor day.

A subscription's period 0 starts when it starts; period k (k >= 1) starts at ``boundary(k)``.
Rolling periods are exact multiples of 24 hours from the start. Monthly periods start at local
midnight, in the account's time zone, on the anchor day (clamped to the month's last day, so an
anchor of 31 renews on February 28th or 29th).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from postmeter.domain.clock import as_utc
from postmeter.domain.errors import InvalidInput

ROLLING = "days"
MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Period:
    index: int
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True, slots=True)
class PeriodRule:
    """How a subscription's time is cut into periods."""

    kind: str  # ROLLING or MONTHLY
    started_at: datetime
    timezone: str
    days: int = 0  # ROLLING: the length
    anchor_day: int = 0  # MONTHLY: 1..31

    def boundary(self, index: int) -> datetime:
        """When period ``index`` starts (index 0 is the subscription's start)."""
        if index <= 0:
            return self.started_at
        if self.kind == ROLLING:
            return self.started_at + timedelta(days=self.days * index)
        year, month = self._first_boundary_month()
        month_no = year * 12 + (month - 1) + (index - 1)
        return local_midnight(
            clamp_day(month_no // 12, month_no % 12 + 1, self.anchor_day), zone(self.timezone)
        )

    def period(self, index: int) -> Period:
        return Period(index, self.boundary(index), self.boundary(index + 1))

    def index_at(self, when: datetime) -> int:
        """The index of the period that contains ``when`` (0 before the start)."""
        if when < self.boundary(1):
            return 0
        if self.kind == ROLLING:
            return int((when - self.started_at) // timedelta(days=self.days))
        local = when.astimezone(zone(self.timezone))
        year, month = self._first_boundary_month()
        index = (local.year - year) * 12 + (local.month - month) + 1
        # The month's anchor may lie after ``when``: then we are still in the previous period.
        while self.boundary(index) > when:
            index -= 1
        while self.boundary(index + 1) <= when:
            index += 1
        return index

    def _first_boundary_month(self) -> tuple[int, int]:
        """The month of the first anchor day strictly after the start (local time)."""
        local = self.started_at.astimezone(zone(self.timezone))
        this_month = local_midnight(
            clamp_day(local.year, local.month, self.anchor_day), local.tzinfo
        )
        if this_month > self.started_at:
            return local.year, local.month
        return (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)


def rolling(started_at: datetime, days: int, timezone: str = "UTC") -> PeriodRule:
    if days <= 0:
        raise InvalidInput(f"a period must last at least one day, not {days}")
    return PeriodRule(ROLLING, as_utc(started_at), timezone, days=days)


def monthly(started_at: datetime, anchor_day: int, timezone: str) -> PeriodRule:
    if not 1 <= anchor_day <= 31:
        raise InvalidInput(f"anchor day must be 1 to 31, not {anchor_day}")
    zone(timezone)
    return PeriodRule(MONTHLY, as_utc(started_at), timezone, anchor_day=anchor_day)


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or a clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}", value=name) from exc


def clamp_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def local_midnight(day: date, tz: object) -> datetime:
    """Local midnight of ``day`` in ``tz``, as a UTC instant."""
    assert tz is not None
    local = datetime.combine(day, time(0), tzinfo=tz)  # type: ignore[arg-type]
    return local.astimezone(UTC)


def add_months(when: datetime, months: int, timezone: str) -> datetime:
    """``when`` plus calendar months in ``timezone``, clamping the day (Aug 31 + 6 = Feb 28)."""
    tz = zone(timezone)
    local = when.astimezone(tz)
    month_no = local.year * 12 + (local.month - 1) + months
    day = clamp_day(month_no // 12, month_no % 12 + 1, local.day)
    moved = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
    return moved.astimezone(UTC)
