"""Lots and the one draw-down order every debit follows.

A lot is one batch of credits. ``remaining`` counts what is neither spent nor expired, ``held``
the part of it that reservations set aside, so a lot can give ``remaining - held`` to a new debit.

The order (DOMAIN.md, "Draw-down order"): free allowance first, then lower ``priority``, then
soonest expiry (never-expiring last), then oldest, then lowest id. It is total, so two engines
given the same lots always draw the same credits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

# Where a lot came from; FREE lots are drawn before all others.
FREE = "free"
PLAN = "plan"
PACKAGE = "package"
TRANSFER = "transfer"
ADJUSTMENT = "adjustment"
RECHARGE = "recharge"

DEFAULT_PRIORITY = 100


@dataclass(slots=True)
class Lot:
    id: int
    source: str
    priority: int
    expires_at: datetime | None
    created_at: datetime
    remaining: int
    held: int

    @property
    def free(self) -> int:
        """What a new debit or hold can take from this lot."""
        return self.remaining - self.held

    def is_live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


def draw_key(lot: Lot) -> tuple[int, int, int, datetime, datetime, int]:
    """Sort key of the draw-down order."""
    never = lot.expires_at is None
    return (
        0 if lot.source == FREE else 1,
        lot.priority,
        1 if never else 0,
        lot.expires_at or lot.created_at,  # ignored for never-expiring lots: the flag sorts them
        lot.created_at,
        lot.id,
    )


class Draw(NamedTuple):
    """What a debit takes: ``(lot id, credits)`` in draw order, and what the lots could not give.

    A named tuple, not a dataclass: one is made per charge on the hot path.
    """

    takes: tuple[tuple[int, int], ...]
    shortfall: int

    @property
    def drawn(self) -> int:
        return sum(credits for _, credits in self.takes)


def plan_draw(lots: Iterable[Lot], credits: int, now: datetime, *, ordered: bool = False) -> Draw:
    """Take ``credits`` from the live lots in draw-down order; never more than a lot has free.

    ``ordered``: the lots are in draw-down order already (a batch sorts them once).
    """
    takes: list[tuple[int, int]] = []
    wanted = credits
    candidates = lots if ordered else sorted(lots, key=draw_key)
    for lot in candidates:
        if wanted == 0:
            break
        free = lot.remaining - lot.held
        if free <= 0 or (lot.expires_at is not None and lot.expires_at <= now):
            continue
        take = free if free < wanted else wanted
        takes.append((lot.id, take))
        wanted -= take
    return Draw(tuple(takes), wanted)


def split_capture(holds: Sequence[tuple[int, int]], cost: int) -> tuple[list[tuple[int, int]], int]:
    """Spend ``cost`` from a reservation's holds in the order they were taken.

    Returns the ``(lot id, credits)`` spent from the holds and the part of ``cost`` the holds do
    not cover (to be drawn afresh). Whatever is not spent goes back to its own lot.
    """
    spent: list[tuple[int, int]] = []
    wanted = cost
    for lot_id, held in holds:
        if wanted == 0:
            break
        take = min(held, wanted)
        spent.append((lot_id, take))
        wanted -= take
    return spent, wanted
