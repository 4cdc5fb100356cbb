"""Where the time comes from: code asks the clock it was given, never the system directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The wall clock; the only place postmeter reads the system time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told: for tests, demos and replaying history."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = as_utc(when)

    def advance(self, by: timedelta) -> datetime:
        self._now += by
        return self._now


def as_utc(when: datetime) -> datetime:
    """Refuse naive datetimes: an instant without a zone is a bug waiting for a DST change."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: give a timezone")
    return when.astimezone(UTC)


class OffsetClock:
    """The wall clock shifted to start at a given instant: a served demo dated in the past
    still sees time pass."""

    def __init__(self, start: datetime, wall: Clock | None = None) -> None:
        self._wall = wall or SystemClock()
        self._offset = as_utc(start) - self._wall.now()

    def now(self) -> datetime:
        return self._wall.now() + self._offset
