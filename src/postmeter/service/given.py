"""Credits a parent gave its children: which lots they are, what they hold, what was used of them.

A lot is *given* by a parent when the transaction that created it is a transfer from that parent
to the lot's account (a ``transfers`` row with ``credits > 0``). Credits are counted by who gave
them, not by where the child sits in the tree now, so a reseller's C and D stay its own.

These are the queries a reseller's books (service/resellers.py), the renewal of its plan
(service/subscriptions.py) and taking back (service/transfers.py) are made of; they read the
journal of the children's given lots, never the hot path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, select

from postmeter.domain import lots as lot_sources
from postmeter.domain.books import TRANSFER_IN, TRANSFER_OUT, account_party
from postmeter.domain.lots import Lot
from postmeter.store import tables as t
from postmeter.store.uow import Tx


def given_lots(parent_id: int, unit: str, child_id: int | None = None) -> Any:
    """A subquery of the lots ``parent_id`` gave (to ``child_id`` only, when given): id, account."""
    lot, tr = t.lots.c, t.transfers.c
    query = (
        select(lot.id, lot.account_id)
        .join(t.transfers, and_(tr.txn_id == lot.txn_id, tr.child_id == lot.account_id))
        .where(
            tr.parent_id == parent_id,
            tr.credits > 0,
            lot.unit == unit,
            lot.source == lot_sources.TRANSFER,
        )
    )
    if child_id is not None:
        query = query.where(lot.account_id == child_id)
    return query.subquery()


def held(tx: Tx, parent_id: int, unit: str) -> int:
    """C: what the children hold of what ``parent_id`` gave them, reserved included."""
    given = given_lots(parent_id, unit)
    total = tx.conn.execute(
        select(func.coalesce(func.sum(t.lots.c.remaining), 0)).where(
            t.lots.c.id.in_(select(given.c.id))
        )
    ).scalar_one()
    return int(total)


def held_before(tx: Tx, parent_id: int, unit: str, at: datetime) -> int:
    """C as it stood at the instant ``at``: the journal of the given lots before it."""
    e = t.entries.c
    total = tx.conn.execute(
        select(func.coalesce(func.sum(e.delta), 0)).where(
            _on_given_lots(parent_id, unit), e.created_at < at
        )
    ).scalar_one()
    return int(total)


def used_since(tx: Tx, parent_id: int, unit: str, since: datetime) -> int:
    """D: what left the given lots from ``since`` on, other than coming back to ``parent_id``.

    That is the children's sends (charges and captures), and the rarer ways given credits leave a
    child: an operator's correction, or a transfer on to the child's own children. Holds move
    nothing (reserved credits are still in C), and given lots never expire.
    """
    e = t.entries.c
    total = tx.conn.execute(
        select(func.coalesce(func.sum(e.delta), 0)).where(
            _on_given_lots(parent_id, unit),
            e.created_at >= since,
            e.kind != TRANSFER_IN,
            ~and_(e.kind == TRANSFER_OUT, e.counterparty == literal(account_party(parent_id))),
        )
    ).scalar_one()
    return -int(total)


def free_lots(tx: Tx, parent_id: int, child_id: int, unit: str) -> list[Lot]:
    """The child's lots that ``parent_id`` gave it and that still hold something."""
    given = given_lots(parent_id, unit, child_id)
    c = t.lots.c
    rows = tx.conn.execute(
        select(c.id, c.source, c.priority, c.expires_at, c.created_at, c.remaining, c.held).where(
            c.id.in_(select(given.c.id)), t.LIVE_LOT
        )
    )
    return [Lot(*row) for row in rows]


def holds_given(tx: Tx, child_id: int) -> bool:
    """Whether the account holds, in any unit, credits its parent (or an earlier one) gave it."""
    lot, tr = t.lots.c, t.transfers.c
    row = tx.conn.execute(
        select(lot.id)
        .join(t.transfers, and_(tr.txn_id == lot.txn_id, tr.child_id == lot.account_id))
        .where(lot.account_id == child_id, tr.credits > 0, t.LIVE_LOT)
        .limit(1)
    ).first()
    return row is not None


def reseller_subscription(tx: Tx, account_id: int, unit: str) -> Any:
    """The account's reseller plan in ``unit``: its active subscription to a plan with seats (the
    oldest, should it have several), joined to the plan; None without one."""
    s, p = t.subscriptions.c, t.plans.c
    return tx.conn.execute(
        select(t.subscriptions, p.seats, p.credits, p.name.label("plan_name"))
        .join(t.plans, p.code == s.plan_code)
        .where(s.account_id == account_id, s.status == "active", p.unit == unit, p.seats > 0)
        .order_by(s.id)
        .limit(1)
    ).first()


def _on_given_lots(parent_id: int, unit: str) -> Any:
    """Entries on the lots ``parent_id`` gave, found by the children's (account, unit) index."""
    given = given_lots(parent_id, unit)
    e = t.entries.c
    return and_(
        e.unit == unit,
        e.account_id.in_(select(given.c.account_id)),
        e.lot_id.in_(select(given.c.id)),
    )
