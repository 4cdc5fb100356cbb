"""Account trees: credits move only inside one tree, and no parent change makes a loop."""

from __future__ import annotations

import pytest

from postmeter.domain.errors import BooksOutOfBalance, InvalidInput, NotFound, OutsideTree
from postmeter.domain.trees import ancestors, check_parent_change, check_same_tree, root_of

# Reseller 1 with customers 2 and 3; 3 resells to 4. Another reseller, 10, with customer 11.
PARENTS: dict[int, int | None] = {1: None, 2: 1, 3: 1, 4: 3, 10: None, 11: 10}


def test_ancestors_nearest_first_and_the_root() -> None:
    assert ancestors(4, PARENTS) == [3, 1]
    assert ancestors(1, PARENTS) == []
    assert (root_of(4, PARENTS), root_of(1, PARENTS), root_of(11, PARENTS)) == (1, 1, 10)


@pytest.mark.parametrize(("giver", "receiver"), [(1, 2), (2, 1), (1, 4), (4, 2), (3, 3)])
def test_credits_move_inside_a_tree(giver: int, receiver: int) -> None:
    assert check_same_tree(giver, receiver, PARENTS) == 1


@pytest.mark.parametrize(("giver", "receiver"), [(1, 10), (4, 11), (11, 2)])
def test_credits_never_leave_their_tree(giver: int, receiver: int) -> None:
    with pytest.raises(OutsideTree, match="never leave their tree") as refused:
        check_same_tree(giver, receiver, PARENTS)
    assert refused.value.details == {"giver": giver, "receiver": receiver}


@pytest.mark.parametrize(("account", "new_parent"), [(1, 4), (1, 2), (3, 4), (3, 3)])
def test_a_parent_change_that_makes_a_loop_is_refused(account: int, new_parent: int) -> None:
    with pytest.raises(InvalidInput, match="loop"):
        check_parent_change(account, new_parent, PARENTS)


@pytest.mark.parametrize(("account", "new_parent"), [(4, 2), (4, 1), (2, 4), (3, None), (4, 10)])
def test_a_parent_change_without_given_credits_is_fine(
    account: int, new_parent: int | None
) -> None:
    check_parent_change(account, new_parent, PARENTS)


@pytest.mark.parametrize(("account", "new_parent"), [(4, 10), (3, None), (2, 11)])
def test_given_credits_never_leave_with_a_moved_account(
    account: int, new_parent: int | None
) -> None:
    with pytest.raises(OutsideTree, match="take them back"):
        check_parent_change(account, new_parent, PARENTS, holds_given_credits=True)


def test_given_credits_may_move_inside_their_tree() -> None:
    check_parent_change(4, 2, PARENTS, holds_given_credits=True)
    check_parent_change(1, None, PARENTS, holds_given_credits=True)  # already at the top


def test_unknown_accounts_and_stored_loops_are_named() -> None:
    with pytest.raises(NotFound, match="no account 99"):
        check_same_tree(1, 99, PARENTS)
    with pytest.raises(NotFound):
        check_parent_change(99, 1, PARENTS)
    looped: dict[int, int | None] = {5: 6, 6: 7, 7: 6}
    with pytest.raises(BooksOutOfBalance, match="loop"):
        root_of(5, looped)
    with pytest.raises(BooksOutOfBalance, match="loop"):
        ancestors(8, {8: 8})
