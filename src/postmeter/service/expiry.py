"""Lot expiry: what is left in a lot at its expiry goes to breakage.

Credits a reservation holds stay held (the scheduled send may still go out); when they are given
back, they expire then (see reservations). Expiring credits come out of the account's unassigned
credits first, the rest out of its senders' assignments in proportion [SMS platform].
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from postmeter.domain.assignments import split_expiry
from postmeter.domain.books import BREAKAGE, EXPIRE, Balance, Posting
from postmeter.store import tables as t
from postmeter.store.uow import Tx


def due(tx: Tx, now: datetime) -> Any:
    """The lot with free credits whose expiry passed first."""
    c = t.lots.c
    return tx.conn.execute(
        select(c.id, c.expires_at)
        .where(t.LIVE_LOT, c.expires_at <= now, c.remaining > c.held)
        .order_by(c.expires_at, c.id)
        .limit(1)
    ).first()


def expire_lot(tx: Tx, txn_id: int, lot_id: int, at: datetime) -> tuple[str, int]:
    """Expire what lot ``lot_id`` has free; returns its unit and the credits expired."""
    c = t.lots.c
    lot = tx.conn.execute(select(c.account_id, c.unit).where(c.id == lot_id)).one()
    balance = tx.lock_balances([(lot.account_id, lot.unit)])[(lot.account_id, lot.unit)]
    fresh = tx.conn.execute(
        select(c.remaining, c.held, c.expires_at).where(c.id == lot_id)
    ).one()  # read again under the lock
    if fresh.expires_at is None or fresh.expires_at > at:
        return lot.unit, 0
    credits = fresh.remaining - fresh.held
    if credits <= 0:
        return lot.unit, 0
    if balance.assigned:
        _take_from_assignments(tx, balance, credits)
    tx.post(balance, txn_id, [Posting(lot_id, EXPIRE, BREAKAGE, delta=-credits)], at)
    return lot.unit, int(credits)


def _take_from_assignments(tx: Tx, balance: Balance, expiring: int) -> None:
    """Shrink the assignments by what the unassigned credits cannot cover of ``expiring``."""
    s = t.senders.c
    rows = tx.conn.execute(
        select(s.id, s.assigned).where(
            s.account_id == balance.account_id, s.unit == balance.unit, s.assigned > 0
        )
    ).all()
    unassigned = balance.balance - balance.reserved - balance.assigned
    split = split_expiry(expiring, unassigned, {row.id: row.assigned for row in rows})
    for sender_id, part in split.from_assignments.items():
        tx.conn.execute(
            update(t.senders).where(s.id == sender_id).values(assigned=s.assigned - part)
        )
        balance.assigned -= part
