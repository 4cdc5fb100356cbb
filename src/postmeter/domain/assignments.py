"""Assignments: credits an account sets aside for one sender, and what expiry takes from them.

An assignment is a promise: its credits are there when its sender sends, and no other sender can
spend them [SMS platform, "Assign"]. So every live assignment together never exceeds what the
account holds and has not reserved (``Pool`` refuses to exist otherwise), an assignment grows only
out of unassigned credits (``resize_assignment``), and expiry takes unassigned credits first, the
rest from the assignments in proportion to their sizes (``split_expiry``): "expired credits will be
subtracted from credits not assigned to specific lists. If these are not sufficient, the remainder
will be deducted in a proportionate manner among those assigned."
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from postmeter.domain.amounts import check_credits
from postmeter.domain.books import Balance
from postmeter.domain.errors import BooksOutOfBalance, InsufficientCredits
from postmeter.domain.sharing import largest_remainder


@dataclass(frozen=True, slots=True)
class Pool:
    """An account's credits of one unit: ``assigned`` sums every live assignment.

    >>> Pool(balance=10_000, reserved=1_000, assigned=6_000).unassigned
    3000
    """

    balance: int
    reserved: int
    assigned: int

    def __post_init__(self) -> None:
        # A pool that breaks these is a store bug: refuse to decide anything on it.
        if min(self.balance, self.reserved, self.assigned) < 0:
            raise BooksOutOfBalance(f"negative credits in {self}")
        if self.reserved + self.assigned > self.balance:
            raise BooksOutOfBalance(
                f"reserved {self.reserved} + assigned {self.assigned} exceed "
                f"balance {self.balance}",
                balance=self.balance,
                reserved=self.reserved,
                assigned=self.assigned,
            )

    @classmethod
    def of(cls, balance: Balance) -> Pool:
        return cls(balance.balance, balance.reserved, balance.assigned)

    @property
    def unassigned(self) -> int:
        """What a sender without an assignment can spend: DOMAIN.md's "available"."""
        return self.balance - self.reserved - self.assigned


def resize_assignment(sender: str, current: int, wanted: int, pool: Pool) -> int:
    """Set a sender's assignment from ``current`` to ``wanted``; return the change to ``assigned``.

    Shrinking always works (the credits go back to the unassigned pool). Growing is refused with
    the shortfall when the unassigned credits cannot cover it: an assignment never promises
    credits the account does not hold.

    >>> resize_assignment("list-1", 300, 500, Pool(1_000, 0, 600))
    200
    """
    check_credits(wanted, allow_zero=True)
    if not 0 <= current <= pool.assigned:
        raise BooksOutOfBalance(
            f"sender {sender!r} has {current} assigned, the account {pool.assigned} in all"
        )
    growth = wanted - current
    if growth > pool.unassigned:
        raise InsufficientCredits(
            f"cannot assign {wanted} to sender {sender!r}: {growth - pool.unassigned} more "
            f"than the unassigned credits (unassigned: {pool.unassigned})",
            sender=sender,
            shortfall=growth - pool.unassigned,
            available=pool.unassigned,
        )
    return growth


@dataclass(frozen=True, slots=True)
class ExpirySplit:
    """Where expiring credits come from: the unassigned pool, then each sender's assignment."""

    from_unassigned: int
    from_assignments: dict[int, int]

    @property
    def total(self) -> int:
        return self.from_unassigned + sum(self.from_assignments.values())


def split_expiry(expiring: int, unassigned: int, assignments: Mapping[int, int]) -> ExpirySplit:
    """Take ``expiring`` credits from ``unassigned`` first, the rest from ``assignments``
    (sender id -> credits left) in proportion to their sizes, by largest remainder.

    Ties in the remainders go to the lower sender id, so the split is the same on every run.
    No assignment gives more than it has: the rest never exceeds their sum.

    >>> split_expiry(700, 100, {1: 300, 2: 200, 3: 100})
    ExpirySplit(from_unassigned=100, from_assignments={1: 300, 2: 200, 3: 100})
    """
    check_credits(expiring, allow_zero=True)
    if unassigned < 0 or any(left < 0 for left in assignments.values()):
        raise BooksOutOfBalance("negative credits in the pool or an assignment")
    from_unassigned = min(expiring, unassigned)
    rest = expiring - from_unassigned
    senders = sorted(assignments)
    sizes = [assignments[sender] for sender in senders]
    if rest > sum(sizes):
        # The expiring lots hold credits that neither the pool nor the assignments count.
        raise BooksOutOfBalance(
            f"{expiring} credits expire but only {unassigned + sum(sizes)} are unreserved",
            expiring=expiring,
            unreserved=unassigned + sum(sizes),
        )
    parts = largest_remainder(rest, sizes)
    taken = {sender: part for sender, part in zip(senders, parts, strict=True) if part}
    return ExpirySplit(from_unassigned, taken)
