"""The one draw-down order every debit follows, and spending what a reservation holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.lots import (
    ADJUSTMENT,
    DEFAULT_PRIORITY,
    FREE,
    PACKAGE,
    PLAN,
    Draw,
    Lot,
    draw_key,
    plan_draw,
    split_capture,
)

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def lot(
    lot_id: int,
    *,
    source: str = PACKAGE,
    expires_in: timedelta | None = None,
    age: timedelta = timedelta(0),
    remaining: int = 100,
    held: int = 0,
    priority: int = DEFAULT_PRIORITY,
) -> Lot:
    expires_at = None if expires_in is None else NOW + expires_in
    return Lot(lot_id, source, priority, expires_at, NOW - age, remaining, held)


def order(lots: list[Lot]) -> list[int]:
    return [x.id for x in sorted(lots, key=draw_key)]


@pytest.mark.parametrize(
    ("lots", "expected"),
    [
        # DirectMail: the free allowance first, outside the packages, even though it never ends.
        ([lot(1, expires_in=DAY), lot(2, source=FREE)], [2, 1]),
        # DirectMail: the package whose validity ends first is drawn first.
        ([lot(1, expires_in=90 * DAY), lot(2, expires_in=30 * DAY)], [2, 1]),
        # A lower priority number is drawn before a sooner expiry.
        ([lot(1, expires_in=DAY), lot(2, expires_in=90 * DAY, priority=10)], [2, 1]),
        # Free beats priority.
        ([lot(1, priority=0, expires_in=DAY), lot(2, source=FREE, priority=500)], [2, 1]),
        # Never-expiring lots come after every expiring one, however far.
        ([lot(1, source=ADJUSTMENT), lot(2, expires_in=3650 * DAY)], [2, 1]),
        # Same expiry: the oldest first.
        ([lot(1, expires_in=DAY, age=DAY), lot(2, expires_in=DAY, age=2 * DAY)], [2, 1]),
        # Two never-expiring lots: the oldest first, whatever their ids.
        ([lot(1, source=ADJUSTMENT, age=DAY), lot(2, source=ADJUSTMENT, age=5 * DAY)], [2, 1]),
        # Everything equal: the lowest id.
        ([lot(7, expires_in=DAY), lot(3, expires_in=DAY)], [3, 7]),
        # Two free lots follow the rest of the order among themselves.
        ([lot(1, source=FREE), lot(2, source=FREE, expires_in=DAY)], [2, 1]),
        # The full order at once.
        (
            [
                lot(1, source=ADJUSTMENT),
                lot(2, source=PLAN, expires_in=20 * DAY),
                lot(3, expires_in=10 * DAY),
                lot(4, source=FREE),
                lot(5, expires_in=10 * DAY, age=DAY),
                lot(6, priority=1),
            ],
            [4, 6, 5, 3, 2, 1],
        ),
    ],
)
def test_draw_down_order(lots: list[Lot], expected: list[int]) -> None:
    assert order(lots) == expected
    assert [lot_id for lot_id, _ in plan_draw(lots, 10_000, NOW).takes] == expected


def test_a_draw_spans_lots_in_order_and_takes_only_what_it_needs() -> None:
    lots = [lot(1, expires_in=3 * DAY), lot(2, expires_in=DAY), lot(3, expires_in=2 * DAY)]
    draw = plan_draw(lots, 250, NOW)
    assert draw == Draw(takes=((2, 100), (3, 100), (1, 50)), shortfall=0)
    assert draw.drawn == 250


def test_what_the_lots_cannot_give_is_the_shortfall() -> None:
    draw = plan_draw([lot(1, remaining=30), lot(2, remaining=20)], 80, NOW)
    assert draw == Draw(takes=((1, 30), (2, 20)), shortfall=30)


def test_a_draw_of_nothing_takes_nothing() -> None:
    assert plan_draw([lot(1)], 0, NOW) == Draw(takes=(), shortfall=0)


@pytest.mark.parametrize(
    ("expires_in", "live"),
    [
        (timedelta(0), False),  # at its expiry instant a lot is over
        (-DAY, False),
        (timedelta(microseconds=1), True),
        (None, True),
    ],
)
def test_expired_lots_are_skipped(expires_in: timedelta | None, live: bool) -> None:
    subject = lot(1, expires_in=expires_in, source=FREE)
    assert subject.is_live(NOW) is live
    draw = plan_draw([subject, lot(2, source=ADJUSTMENT)], 150, NOW)
    expected = ((1, 100), (2, 50)) if live else ((2, 100),)
    assert draw.takes == expected


def test_held_credits_are_not_drawn() -> None:
    partly = lot(1, remaining=100, held=60, expires_in=DAY)
    fully = lot(2, remaining=50, held=50, expires_in=DAY)
    assert (partly.free, fully.free) == (40, 0)
    draw = plan_draw([partly, fully, lot(3)], 100, NOW)
    assert draw.takes == ((1, 40), (3, 60))


@st.composite
def some_lots(draw: st.DrawFn) -> list[Lot]:
    count = draw(st.integers(0, 8))
    lots = []
    for i in range(count):
        remaining = draw(st.integers(0, 200))
        expires = draw(st.none() | st.integers(-5, 5).map(lambda d: d * DAY))
        lots.append(
            lot(
                i + 1,
                source=draw(st.sampled_from([FREE, PLAN, PACKAGE, ADJUSTMENT])),
                expires_in=expires,
                age=draw(st.integers(0, 3)) * DAY,
                remaining=remaining,
                held=draw(st.integers(0, remaining)),
                priority=draw(st.sampled_from([10, DEFAULT_PRIORITY])),
            )
        )
    return lots


@given(lots=some_lots(), credits=st.integers(0, 1500))
def test_a_draw_takes_min_of_wanted_and_free_live_credits_in_order(
    lots: list[Lot], credits: int
) -> None:
    draw = plan_draw(lots, credits, NOW)
    by_id = {x.id: x for x in lots}
    usable = sum(x.free for x in lots if x.is_live(NOW))
    assert draw.drawn == min(credits, usable)
    assert draw.drawn + draw.shortfall == credits
    assert all(0 < n <= by_id[i].free and by_id[i].is_live(NOW) for i, n in draw.takes)
    ids = [i for i, _ in draw.takes]
    assert ids == sorted(ids, key=lambda i: draw_key(by_id[i]))
    # Only the last lot touched may be drawn partially.
    assert all(n == by_id[i].free for i, n in draw.takes[:-1])


@pytest.mark.parametrize(
    ("cost", "spent", "beyond"),
    [
        (0, [], 0),
        (20, [(1, 20)], 0),
        (30, [(1, 30)], 0),
        (40, [(1, 30), (2, 10)], 0),
        (50, [(1, 30), (2, 20)], 0),
        (70, [(1, 30), (2, 20)], 20),
    ],
)
def test_split_capture_spends_holds_in_the_order_they_were_taken(
    cost: int, spent: list[tuple[int, int]], beyond: int
) -> None:
    assert split_capture([(1, 30), (2, 20)], cost) == (spent, beyond)


def test_split_capture_with_no_holds_leaves_everything_beyond() -> None:
    assert split_capture([], 15) == ([], 15)
