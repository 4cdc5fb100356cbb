"""The vocabulary of the journal: what a posting is, its kinds and counterparties.

A posting moves one lot: ``delta`` changes what remains in it (and so the balance), ``held_delta``
what reservations hold of it. Every credit comes from a counterparty and goes to one, so the
journal can always say where a credit went.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

# Entry kinds.
GRANT = "grant"  # plan period, free allowance, adjustment up, recharge
PURCHASE = "purchase"  # a catalogue package bought
CHARGE = "charge"  # spent on a send
HOLD = "hold"  # set aside by a reservation
RELEASE = "release"  # given back by a reservation
CAPTURE = "capture"  # spent from what a reservation held
EXPIRE = "expire"  # the lot reached its expiry
EXTEND = "extend"  # the lot's expiry moved (no credits move)
ADJUST = "adjust"  # an operator correction downwards
TRANSFER_OUT = "transfer_out"
TRANSFER_IN = "transfer_in"

ENTRY_KINDS = (
    GRANT,
    PURCHASE,
    CHARGE,
    HOLD,
    RELEASE,
    CAPTURE,
    EXPIRE,
    EXTEND,
    ADJUST,
    TRANSFER_OUT,
    TRANSFER_IN,
)

# Counterparties.
ISSUANCE = "issuance"  # credits created: sold, granted, given free
USAGE = "usage"  # credits spent on sending
BREAKAGE = "breakage"  # credits that expired unused
CORRECTION = "correction"  # operator adjustments downwards


def account_party(account_id: int) -> str:
    return f"account:{account_id}"


def reservation_party(reservation_id: int) -> str:
    return f"reservation:{reservation_id}"


class Posting(NamedTuple):
    """One lot's change in one transaction (a named tuple: many are made per batch)."""

    lot_id: int
    kind: str
    counterparty: str
    delta: int = 0
    held_delta: int = 0


@dataclass(slots=True)
class Balance:
    """The cached totals of one account and unit (the row the unit of work locks)."""

    account_id: int
    unit: str
    root_id: int
    balance: int
    reserved: int
    assigned: int
    payg_price_minor: int | None = None
    payg_price_per: int | None = None
    payg_currency: str | None = None

    @property
    def available(self) -> int:
        """What a new send can spend: the balance less what is reserved and assigned."""
        return self.balance - self.reserved - self.assigned

    @property
    def has_payg(self) -> bool:
        return self.payg_price_minor is not None
