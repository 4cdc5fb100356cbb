"""The clock code is given: UTC instants, never naive, moving only when told in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from postmeter.domain.clock import FixedClock, SystemClock, as_utc


def test_a_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 4, 1, 11, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2026, 4, 1, 9, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.advance(timedelta(days=30)) == datetime(2026, 5, 1, 9, tzinfo=UTC)
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2027, 1, 1, tzinfo=UTC)


def test_the_system_clock_is_aware_and_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        as_utc(datetime(2026, 4, 1))
    with pytest.raises(ValueError, match="naive"):
        FixedClock(datetime(2026, 4, 1))
