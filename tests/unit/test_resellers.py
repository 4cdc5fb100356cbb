"""A reseller's books: A = B + C + D at every moment, through transfers, take-backs, use by
children and renewals; and the seats of its plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.errors import (
    BooksOutOfBalance,
    InsufficientCredits,
    InvalidAmount,
    InvalidInput,
    SeatsExhausted,
)
from postmeter.domain.resellers import PlanSummary, ResellerBooks

PLAN = 1_000_000
APRIL_9 = ResellerBooks(a=1_000_000, b=500_000, c=300_000, d=200_000)


def test_the_white_label_seed_april_9th_then_the_renewal_on_the_12th() -> None:
    # The period opened on March 12th; the reseller gave 500,000, children used 200,000 of it.
    books = ResellerBooks.opening(PLAN).transfer_to_child(500_000).child_used(200_000)
    assert books == APRIL_9
    renewed = books.renew(PLAN)
    assert renewed == ResellerBooks(a=1_000_000, b=700_000, c=300_000, d=0)


def test_the_old_b_does_not_roll_over() -> None:
    nothing_given = ResellerBooks.opening(PLAN)
    assert nothing_given.renew(PLAN) == ResellerBooks(PLAN, PLAN, 0, 0)  # not 2,000,000


@pytest.mark.parametrize(
    ("a", "b", "c", "d"), [(1_000_000, 500_000, 300_000, 199_999), (0, 1, 0, -1)]
)
def test_books_that_do_not_add_up_are_refused(a: int, b: int, c: int, d: int) -> None:
    with pytest.raises(BooksOutOfBalance, match="A = B \\+ C \\+ D"):
        ResellerBooks(a, b, c, d)


def test_a_transfer_moves_b_to_c_and_no_more_than_b() -> None:
    assert APRIL_9.transfer_to_child(500_000) == ResellerBooks(PLAN, 0, 800_000, 200_000)
    with pytest.raises(InsufficientCredits, match="500000 are available") as refused:
        APRIL_9.transfer_to_child(500_001)
    assert refused.value.details == {"shortfall": 1, "available": 500_000}


def test_taking_back_moves_c_to_b_within_what_the_child_has_free() -> None:
    # The child holds 120,000 of what it was given; 20,000 of those are reserved for a send.
    assert APRIL_9.take_back(100_000, child_free=100_000) == ResellerBooks(
        PLAN, 600_000, 200_000, 200_000
    )
    with pytest.raises(InsufficientCredits, match="neither spent nor reserved") as refused:
        APRIL_9.take_back(100_001, child_free=100_000)
    assert refused.value.details == {"shortfall": 1, "available": 100_000}


def test_a_child_cannot_hold_more_given_credits_than_all_children() -> None:
    with pytest.raises(BooksOutOfBalance):
        APRIL_9.take_back(1, child_free=300_001)


def test_children_use_what_they_were_given() -> None:
    assert APRIL_9.child_used(300_000) == ResellerBooks(PLAN, 500_000, 0, 500_000)
    with pytest.raises(BooksOutOfBalance, match="hold 300000"):
        APRIL_9.child_used(300_001)


@pytest.mark.parametrize("credits", [0, -5])
def test_moves_need_a_positive_amount(credits: int) -> None:
    for move in (APRIL_9.transfer_to_child, APRIL_9.child_used):
        with pytest.raises(InvalidAmount):
            move(credits)
    with pytest.raises(InvalidAmount):
        APRIL_9.take_back(credits, child_free=100)


def test_a_plan_cut_below_what_children_hold_leaves_nothing_to_assign_and_takes_nothing() -> None:
    renewed = APRIL_9.renew(200_000)
    assert renewed == ResellerBooks(a=300_000, b=0, c=300_000, d=0)
    # As children spend, nothing new appears; a take-back may be given out again.
    assert renewed.child_used(100_000) == ResellerBooks(300_000, 0, 200_000, 100_000)
    assert renewed.take_back(50_000, child_free=50_000).b == 50_000
    # The next renewal, with children holding less than the plan, grants the plan again.
    assert renewed.child_used(250_000).renew(200_000) == ResellerBooks(200_000, 150_000, 50_000, 0)


# A move: its name, its size in thousandths of what the books allow it (above 1,000: beyond
# that), and what the child has free as thousandths of C (for a take-back).
MOVES = st.tuples(
    st.sampled_from(["transfer", "take_back", "use", "renew"]),
    st.integers(0, 1_100),
    st.integers(0, 1_000),
)


@given(plan=st.integers(0, 2_000_000), steps=st.lists(MOVES, max_size=40))
def test_any_sequence_of_moves_keeps_a_equal_to_b_plus_c_plus_d(
    plan: int, steps: list[tuple[str, int, int]]
) -> None:
    books = ResellerBooks.opening(plan)
    for move, size, share in steps:
        before = books
        if move == "renew":
            books = books.renew(size * 2_000)
            assert books.a == max(size * 2_000, before.c)
            assert (books.b, books.c, books.d) == (books.a - before.c, before.c, 0)
            continue
        limit = _limit(move, before, share)
        credits = limit * size // 1_000 if size <= 1_000 else limit + size - 1_000
        try:
            books = _apply(move, before, credits, child_free=before.c * share // 1_000)
        except (InsufficientCredits, BooksOutOfBalance, InvalidAmount):
            assert credits == 0 or credits > limit
            continue
        assert 0 < credits <= limit
        assert books.a == before.a  # only a renewal changes A
        assert books.a == books.b + books.c + books.d
        assert min(books.b, books.c, books.d) >= 0
        assert books.d >= before.d  # use only grows within a period


def _limit(move: str, books: ResellerBooks, share: int) -> int:
    """What the move may take, said from the books alone (independent of the code under test)."""
    limits = {"transfer": books.b, "take_back": books.c * share // 1_000, "use": books.c}
    return limits[move]


def _apply(move: str, books: ResellerBooks, credits: int, child_free: int) -> ResellerBooks:
    if move == "transfer":
        return books.transfer_to_child(credits)
    if move == "take_back":
        return books.take_back(credits, child_free=child_free)
    return books.child_used(credits)


RENEWS = datetime(2026, 5, 12, tzinfo=UTC)


def test_the_plan_summary_counts_seats_and_refuses_one_too_many() -> None:
    summary = PlanSummary("White Label 1M", 4, 5, dedicated_ips=1, renews_at=RENEWS)
    full = summary.add_user()
    assert (full.users_created, full.seats_left) == (5, 0)
    with pytest.raises(SeatsExhausted, match="allows 5 users and has 5") as refused:
        full.add_user()
    assert refused.value.details == {"users_created": 5, "users_allowed": 5}


def test_a_plan_summary_needs_a_name_and_an_aware_renewal_date() -> None:
    with pytest.raises(InvalidInput, match="plan name"):
        PlanSummary(" ", 0, 5, 0, RENEWS)
    with pytest.raises(InvalidInput, match="time zone"):
        PlanSummary("White Label", 0, 5, 0, datetime(2026, 5, 12))
