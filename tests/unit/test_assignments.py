"""Assignments: set aside only from unassigned credits; expiry takes unassigned credits first,
the rest from the assignments in proportion, the parts adding up exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.assignments import ExpirySplit, Pool, resize_assignment, split_expiry
from postmeter.domain.books import Balance
from postmeter.domain.errors import BooksOutOfBalance, InsufficientCredits, InvalidAmount

# The SMS platform's page, in numbers: 1,000 SMS credits; three lists have 300, 200 and 100 set
# aside, so 400 are unassigned (and "available" to every list without an assignment).
LISTS = {1: 300, 2: 200, 3: 100}
SMS = Pool(balance=1_000, reserved=0, assigned=600)


def test_unassigned_is_the_balance_less_reserved_and_assigned() -> None:
    assert SMS.unassigned == 400
    assert Pool(balance=1_000, reserved=250, assigned=600).unassigned == 150
    assert Pool.of(Balance(1, "sms", 1, balance=1_000, reserved=250, assigned=600)) == Pool(
        1_000, 250, 600
    )


@pytest.mark.parametrize(
    ("balance", "reserved", "assigned"), [(1_000, 500, 501), (100, 0, 101), (-1, 0, 0)]
)
def test_a_pool_promising_more_than_it_holds_is_a_books_error(
    balance: int, reserved: int, assigned: int
) -> None:
    with pytest.raises(BooksOutOfBalance):
        Pool(balance, reserved, assigned)


# -- resizing -------------------------------------------------------------------------------------


def test_an_assignment_grows_out_of_the_unassigned_credits() -> None:
    assert resize_assignment("list-1", 300, 700, SMS) == 400  # every unassigned credit


def test_an_assignment_never_grows_beyond_the_unassigned_credits() -> None:
    with pytest.raises(InsufficientCredits, match="list-1") as refused:
        resize_assignment("list-1", 300, 701, SMS)
    assert refused.value.details == {"sender": "list-1", "shortfall": 1, "available": 400}


def test_reserved_credits_cannot_be_assigned() -> None:
    pool = Pool(balance=1_000, reserved=400, assigned=600)
    with pytest.raises(InsufficientCredits):
        resize_assignment("new-list", 0, 1, pool)


@pytest.mark.parametrize(("wanted", "change"), [(100, -200), (0, -300), (300, 0)])
def test_shrinking_always_works_and_gives_the_credits_back(wanted: int, change: int) -> None:
    full = Pool(balance=600, reserved=0, assigned=600)  # nothing unassigned at all
    assert resize_assignment("list-1", 300, wanted, full) == change


def test_a_negative_assignment_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        resize_assignment("list-1", 300, -1, SMS)


def test_an_assignment_bigger_than_all_assignments_is_a_books_error() -> None:
    with pytest.raises(BooksOutOfBalance):
        resize_assignment("list-1", 601, 0, SMS)


# -- expiry ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expiring", "unassigned", "from_unassigned", "from_assignments"),
    [
        # Enough unassigned credits: no list loses anything.
        (400, 400, 400, {}),
        (150, 400, 150, {}),
        # 500 expire: 400 unassigned, the other 100 from 300/200/100 as 50, 33.3, 16.7: the
        # leftover step goes to the largest remainder (list 3), so 50 + 33 + 17 = 100.
        (500, 400, 400, {1: 50, 2: 33, 3: 17}),
        # Nothing unassigned: 600 expire, exactly the three assignments.
        (600, 0, 0, {1: 300, 2: 200, 3: 100}),
        # 10 over 300/200/100: 5, 3.33, 1.67 -> 5, 3, 2.
        (10, 0, 0, {1: 5, 2: 3, 3: 2}),
        (0, 400, 0, {}),
    ],
)
def test_expiry_takes_unassigned_credits_first_then_the_assignments_in_proportion(
    expiring: int, unassigned: int, from_unassigned: int, from_assignments: dict[int, int]
) -> None:
    split = split_expiry(expiring, unassigned, LISTS)
    assert split == ExpirySplit(from_unassigned, from_assignments)
    assert split.total == expiring


def test_ties_in_the_proportional_split_go_to_the_lower_sender_id() -> None:
    # One credit over two equal assignments: 0.5 each. Given in any order, sender 2 pays it.
    assert split_expiry(1, 0, {9: 100, 2: 100}).from_assignments == {2: 1}


def test_more_expiring_than_the_pool_and_assignments_hold_is_a_books_error() -> None:
    with pytest.raises(BooksOutOfBalance, match="1001 credits expire"):
        split_expiry(1_001, 400, LISTS)
    with pytest.raises(BooksOutOfBalance):
        split_expiry(1, 0, {})


@given(
    unassigned=st.integers(0, 10**9),
    assignments=st.dictionaries(st.integers(1, 10**6), st.integers(0, 10**9), max_size=8),
    data=st.data(),
)
def test_every_expiry_split_adds_up_and_spares_assignments_while_it_can(
    unassigned: int, assignments: dict[int, int], data: st.DataObject
) -> None:
    whole = sum(assignments.values())
    expiring = data.draw(st.integers(0, unassigned + whole))
    split = split_expiry(expiring, unassigned, assignments)
    assert split.total == expiring
    assert split.from_unassigned == min(expiring, unassigned)
    rest = expiring - split.from_unassigned
    for sender, part in split.from_assignments.items():
        size = assignments[sender]
        assert 0 < part <= size
        # Within one step of the exact proportional share rest * size / whole.
        assert rest * size // whole <= part <= rest * size // whole + 1
