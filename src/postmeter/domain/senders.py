"""Senders, and the three ways one shares its account's credits.

A sender is an e-mail domain [AcyMailing] or an SMS list [SMS platform] inside an account. It
spends its account's credits in one of three modes (DOMAIN.md, "Senders"):

- free access, the default: no limit of its own; it spends what the account has unassigned.
- a cap: at most ``cap`` credits per period. Nothing is set aside, so the account's unassigned
  credits still bound it: a cap is a ceiling, not a promise, and caps may add up to more than
  the account holds.
- an assignment: credits set aside for this sender (see ``assignments``). The assignment is also
  the sender's spending limit, as the SMS platform's "set a spending limit for each list" says:
  an assigned sender spends only from what is left of its assignment, and a send beyond it is
  refused (AssignmentExhausted) even while unassigned credits remain; its owner assigns more.
  Two reasons: a list meant to be bounded must stay bounded, and "available to others = balance -
  assignments" then holds for the assigned sender too, so every sender sees one number.

The checks of a charge run in DOMAIN.md's order: the sender and the accounts above it are active
(``statuses.check_can_send`` and the service), the quota windows have room (quotas), then
``plan_spend``: the cap or assignment has room, then the credits are there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from postmeter.domain.amounts import check_credits
from postmeter.domain.assignments import Pool
from postmeter.domain.errors import (
    AssignmentExhausted,
    BooksOutOfBalance,
    CapReached,
    InsufficientCredits,
    InvalidInput,
)

DOMAIN = "domain"
LIST = "list"
SENDER_KINDS = (DOMAIN, LIST)

FREE_ACCESS = "free_access"
CAP = "cap"
ASSIGNMENT = "assignment"
SHARING_MODES = (FREE_ACCESS, CAP, ASSIGNMENT)


def check_no_slash(name: str) -> str:
    """A sender's name is a segment of its own URLs (/v1/accounts/{ref}/senders/{name}): no "/",
    which neither a domain nor a list name needs."""
    if "/" in name:
        raise InvalidInput(f"a sender's name cannot contain '/': {name!r}", value=name)
    return name


def check_kind(kind: str) -> str:
    if kind not in SENDER_KINDS:
        raise InvalidInput(f"a sender is a 'domain' or a 'list', not {kind!r}", value=kind)
    return kind


@dataclass(frozen=True, slots=True)
class Sharing:
    """How a sender shares its account's credits, as its owner sets it.

    ``limit`` is the cap per period (CAP) or the credits to set aside (ASSIGNMENT); free access
    has none.

    >>> Sharing(CAP, 5_000).limit
    5000
    """

    mode: str = FREE_ACCESS
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in SHARING_MODES:
            raise InvalidInput(
                f"sharing mode must be one of {', '.join(SHARING_MODES)}, not {self.mode!r}",
                value=self.mode,
            )
        if self.mode == FREE_ACCESS and self.limit is not None:
            raise InvalidInput("free access has no limit: choose a cap or an assignment")
        if self.mode != FREE_ACCESS:
            if self.limit is None:
                raise InvalidInput(f"a sender with a {self.mode} needs its limit in credits")
            check_credits(self.limit, allow_zero=True)


@dataclass(frozen=True, slots=True)
class SenderCredits:
    """One sender's own limit, as read for a charge.

    ``used``: what a capped sender spent this period, plus what its open reservations hold (a
    scheduled send counts against the cap when it is scheduled, or caps could be outrun).
    ``assignment_left``: what is left of an assigned sender's assignment.
    """

    name: str
    mode: str = FREE_ACCESS
    cap: int = 0
    used: int = 0
    assignment_left: int = 0

    def __post_init__(self) -> None:
        if self.mode not in SHARING_MODES:
            raise InvalidInput(f"unknown sharing mode {self.mode!r}", value=self.mode)
        if min(self.cap, self.used, self.assignment_left) < 0:
            raise BooksOutOfBalance(f"negative credits in sender {self.name!r}")

    @property
    def room(self) -> int | None:
        """What the sender's own limit still allows; None when only the pool limits it."""
        if self.mode == CAP:
            return max(self.cap - self.used, 0)  # a cap lowered below what was used has none
        if self.mode == ASSIGNMENT:
            return self.assignment_left
        return None


class Spend(NamedTuple):
    """How a charge is met: from the sender's assignment, from the unassigned credits, and the
    ``shortfall`` neither covers (for automatic recharge or pay-as-you-go, else a refusal)."""

    from_assignment: int
    from_pool: int
    shortfall: int


def plan_spend(sender: SenderCredits, credits: int, pool: Pool) -> Spend:
    """Check the sender's own limit for ``credits``, then say where they come from.

    Raises CapReached or AssignmentExhausted; a lack of unassigned credits is not an error here
    but the ``shortfall``, since a recharge may still buy it (``check_spend`` refuses it).

    >>> plan_spend(SenderCredits("d1", CAP, cap=5_000, used=4_000), 300, Pool(20_000, 0, 0))
    Spend(from_assignment=0, from_pool=300, shortfall=0)
    """
    check_credits(credits, allow_zero=True)
    if sender.mode == ASSIGNMENT:
        if sender.assignment_left > pool.assigned:
            raise BooksOutOfBalance(
                f"sender {sender.name!r} has {sender.assignment_left} assigned, "
                f"the account {pool.assigned} in all"
            )
        _check_room(sender, credits, AssignmentExhausted, "assignment")
        return Spend(credits, 0, 0)
    if sender.mode == CAP:
        _check_room(sender, credits, CapReached, "cap for this period")
    from_pool = min(credits, pool.unassigned)
    return Spend(0, from_pool, credits - from_pool)


def check_spend(sender: SenderCredits, credits: int, pool: Pool) -> Spend:
    """``plan_spend``, refusing a shortfall with InsufficientCredits (no recharge, no overage)."""
    spend = plan_spend(sender, credits, pool)
    if spend.shortfall:
        raise InsufficientCredits(
            f"sender {sender.name!r} lacks {spend.shortfall} credits "
            f"(available: {pool.unassigned})",
            sender=sender.name,
            shortfall=spend.shortfall,
            available=pool.unassigned,
        )
    return spend


def _check_room(
    sender: SenderCredits,
    credits: int,
    error: type[CapReached] | type[AssignmentExhausted],
    what: str,
) -> None:
    room = sender.room
    assert room is not None, "only capped and assigned senders have room of their own"
    if credits > room:
        raise error(
            f"sender {sender.name!r} has {room} credits left of its {what}; this needs {credits}",
            sender=sender.name,
            room=room,
            shortfall=credits - room,
        )
