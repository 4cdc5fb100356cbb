"""Senders share their account's credits freely, under a cap per period, or from an assignment
that is also their limit; the cap or assignment is checked before the credits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.assignments import Pool
from postmeter.domain.errors import (
    AssignmentExhausted,
    BooksOutOfBalance,
    CapReached,
    InsufficientCredits,
    InvalidAmount,
    InvalidInput,
)
from postmeter.domain.senders import (
    ASSIGNMENT,
    CAP,
    DOMAIN,
    FREE_ACCESS,
    LIST,
    SenderCredits,
    Sharing,
    Spend,
    check_kind,
    check_spend,
    plan_spend,
)

# AcyMailing: one pool of 20,000 credits per 30 days, three domains capped at 5,000, 8,000, 7,000.
POOL = Pool(balance=20_000, reserved=0, assigned=0)


def domain(name: str, cap: int, used: int = 0) -> SenderCredits:
    return SenderCredits(name, CAP, cap=cap, used=used)


def test_senders_are_domains_or_lists() -> None:
    assert (check_kind(DOMAIN), check_kind(LIST)) == ("domain", "list")
    with pytest.raises(InvalidInput, match="'domain' or a 'list'"):
        check_kind("number")


# -- the settings ---------------------------------------------------------------------------------


def test_free_access_is_the_default_and_has_no_limit() -> None:
    assert Sharing() == Sharing(FREE_ACCESS, None)
    with pytest.raises(InvalidInput, match="no limit"):
        Sharing(FREE_ACCESS, 100)


@pytest.mark.parametrize(
    ("mode", "limit", "error"),
    [
        (CAP, None, InvalidInput),
        (ASSIGNMENT, None, InvalidInput),
        (CAP, -1, InvalidAmount),
        (ASSIGNMENT, 1.5, InvalidAmount),
        ("spending_limit", 10, InvalidInput),
    ],
)
def test_a_cap_or_assignment_needs_a_whole_limit(
    mode: str, limit: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        Sharing(mode, limit)


# -- caps -----------------------------------------------------------------------------------------


def test_a_capped_domain_spends_up_to_its_cap_from_the_shared_pool() -> None:
    assert plan_spend(domain("d1", 5_000, used=4_800), 200, POOL) == Spend(0, 200, 0)


def test_a_capped_domain_is_refused_beyond_its_cap_even_with_credits_in_the_pool() -> None:
    with pytest.raises(CapReached, match="'d1' has 200 credits left of its cap") as refused:
        plan_spend(domain("d1", 5_000, used=4_800), 201, POOL)
    assert refused.value.details == {"sender": "d1", "room": 200, "shortfall": 1}


def test_a_cap_lowered_below_what_was_used_leaves_no_room() -> None:
    with pytest.raises(CapReached) as refused:
        plan_spend(domain("d1", 3_000, used=4_800), 1, POOL)
    assert refused.value.details["room"] == 0


def test_a_cap_sets_nothing_aside_so_the_pool_still_bounds_it() -> None:
    # Domains 1 and 3 spent 12,000 of the 20,000: domain 2's cap of 8,000 meets a pool of 8,000,
    # and whatever else was spent meanwhile leaves it 3,000.
    drained = Pool(balance=3_000, reserved=0, assigned=0)
    assert plan_spend(domain("d2", 8_000), 8_000, drained) == Spend(0, 3_000, 5_000)
    with pytest.raises(InsufficientCredits, match="'d2' lacks 5000") as refused:
        check_spend(domain("d2", 8_000), 8_000, drained)
    assert refused.value.details == {"sender": "d2", "shortfall": 5_000, "available": 3_000}


def test_the_cap_is_checked_before_the_credits() -> None:
    empty = Pool(balance=0, reserved=0, assigned=0)
    with pytest.raises(CapReached):
        check_spend(domain("d3", 7_000, used=7_000), 1, empty)


# -- free access ----------------------------------------------------------------------------------


def test_free_access_spends_what_is_neither_reserved_nor_assigned() -> None:
    pool = Pool(balance=1_000, reserved=300, assigned=600)
    free = SenderCredits("everyone")
    assert check_spend(free, 100, pool) == Spend(0, 100, 0)
    assert plan_spend(free, 101, pool) == Spend(0, 100, 1)


# -- assignments ----------------------------------------------------------------------------------

# The SMS platform: 1,000 credits, list-1 has 300 set aside, list-2 200, list-3 100.
SMS = Pool(balance=1_000, reserved=0, assigned=600)


def assigned(name: str, left: int) -> SenderCredits:
    return SenderCredits(name, ASSIGNMENT, assignment_left=left)


def test_an_assigned_list_spends_from_its_assignment() -> None:
    assert check_spend(assigned("list-1", 300), 300, SMS) == Spend(300, 0, 0)


def test_an_assignment_is_also_the_lists_limit_even_with_unassigned_credits_left() -> None:
    with pytest.raises(AssignmentExhausted, match="'list-1' has 300 credits left") as refused:
        check_spend(assigned("list-1", 300), 301, SMS)
    assert refused.value.details == {"sender": "list-1", "room": 300, "shortfall": 1}


def test_other_senders_cannot_spend_assigned_credits() -> None:
    # 400 unassigned: a list without an assignment gets those and no more.
    with pytest.raises(InsufficientCredits) as refused:
        check_spend(SenderCredits("list-4"), 401, SMS)
    assert refused.value.details["available"] == 400


def test_an_assignment_the_pool_does_not_count_is_a_books_error() -> None:
    with pytest.raises(BooksOutOfBalance):
        plan_spend(assigned("list-1", 601), 1, SMS)


# -- every charge ---------------------------------------------------------------------------------


def test_a_negative_charge_is_refused_and_a_free_one_always_fits() -> None:
    with pytest.raises(InvalidAmount):
        plan_spend(SenderCredits("s"), -1, POOL)
    assert check_spend(domain("d1", 5_000, used=5_000), 0, POOL) == Spend(0, 0, 0)


senders = st.one_of(
    st.builds(SenderCredits, st.just("free"), st.just(FREE_ACCESS)),
    st.builds(
        SenderCredits,
        st.just("capped"),
        st.just(CAP),
        cap=st.integers(0, 10_000),
        used=st.integers(0, 10_000),
    ),
    st.builds(
        SenderCredits, st.just("assigned"), st.just(ASSIGNMENT), assignment_left=st.integers(0, 500)
    ),
)


@given(
    sender=senders,
    credits=st.integers(0, 20_000),
    balance=st.integers(0, 20_000),
    data=st.data(),
)
def test_a_spend_covers_the_charge_exactly_and_leaves_the_books_whole(
    sender: SenderCredits, credits: int, balance: int, data: st.DataObject
) -> None:
    assigned_total = data.draw(st.integers(min(sender.assignment_left, balance), balance))
    if sender.assignment_left > assigned_total:
        return  # the pool cannot hold this sender's assignment: not a state the books allow
    reserved = data.draw(st.integers(0, balance - assigned_total))
    pool = Pool(balance, reserved, assigned_total)
    room = sender.room
    try:
        spend = plan_spend(sender, credits, pool)
    except (CapReached, AssignmentExhausted):
        assert room is not None
        assert credits > room
        return
    assert room is None or credits <= room
    assert spend.from_assignment + spend.from_pool + spend.shortfall == credits
    assert spend.from_pool <= pool.unassigned
    assert spend.from_assignment <= sender.assignment_left
    # What is spent leaves the balance and the assignment together: the pool stays whole.
    spent = spend.from_assignment + spend.from_pool
    Pool(balance - spent, reserved, assigned_total - spend.from_assignment)
