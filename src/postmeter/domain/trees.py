"""Account trees: credits move only inside one, and a parent change never makes a loop.

Accounts form trees: a top-level account (a licence owner, a reseller) and its child accounts
[white label]. Credits never leave an account's own tree: no transfer to a third party [SMS
platform]. The functions read a parent map (account id -> parent id, None at the top), so they
answer the same whatever store the map came from.
"""

from __future__ import annotations

from collections.abc import Mapping

from postmeter.domain.errors import BooksOutOfBalance, InvalidInput, NotFound, OutsideTree

Parents = Mapping[int, int | None]


def ancestors(account: int, parents: Parents) -> list[int]:
    """The accounts above ``account``, nearest first.

    >>> ancestors(3, {1: None, 2: 1, 3: 2})
    [2, 1]
    """
    above: list[int] = []
    current = _parent(account, parents)
    while current is not None:
        if current == account or current in above:
            # A stored loop would make every walk endless: say so rather than hang.
            raise BooksOutOfBalance(f"the accounts above {account} form a loop", account=account)
        above.append(current)
        current = _parent(current, parents)
    return above


def root_of(account: int, parents: Parents) -> int:
    above = ancestors(account, parents)
    return above[-1] if above else account


def check_same_tree(giver: int, receiver: int, parents: Parents) -> int:
    """Refuse a move of credits between two trees; return the tree's top-level account."""
    root = root_of(giver, parents)
    if root_of(receiver, parents) != root:
        raise OutsideTree(
            f"credits never leave their tree: account {receiver} is not in account {giver}'s",
            giver=giver,
            receiver=receiver,
        )
    return root


def check_parent_change(
    account: int, new_parent: int | None, parents: Parents, *, holds_given_credits: bool = False
) -> None:
    """Refuse a parent change that would make a loop, or carry given credits out of the tree.

    ``holds_given_credits``: the account or one below it still holds credits an account above
    it gave (they belong to the old tree's books, C of its reseller); take them back first.
    """
    if new_parent is not None and account in (new_parent, *ancestors(new_parent, parents)):
        raise InvalidInput(
            f"account {new_parent} is {account} or below it: the tree would loop",
            account=account,
            parent=new_parent,
        )
    old_root = root_of(account, parents)
    new_root = account if new_parent is None else root_of(new_parent, parents)
    if holds_given_credits and new_root != old_root:
        raise OutsideTree(
            f"account {account} holds credits given inside its tree: take them back before "
            "moving it to another",
            account=account,
            parent=new_parent,
        )


def _parent(account: int, parents: Parents) -> int | None:
    try:
        return parents[account]
    except KeyError:
        raise NotFound(f"no account {account}", account=account) from None
