"""What people see of the books: balances with their lots and period, and the journal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from postmeter.domain.books import ENTRY_KINDS
from postmeter.domain.errors import InvalidInput
from postmeter.domain.lots import Lot, draw_key
from postmeter.domain.validate import check_code, check_count, check_instant
from postmeter.service import lookup, subscriptions
from postmeter.service.context import Context
from postmeter.store import tables as t
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class LotView:
    id: int
    source: str
    priority: int
    amount: int
    remaining: int
    held: int
    expires_at: str | None
    created_at: str
    package: str | None


@dataclass(frozen=True, slots=True)
class PeriodView:
    """A plan's current period: what is left of its credits and when they reset [AcyMailing]."""

    plan: str
    credits: int
    left: int
    started_at: str
    next_reset_at: str


@dataclass(frozen=True, slots=True)
class Summary:
    account: str
    unit: str
    scale: int
    balance: int
    reserved: int
    assigned: int
    available: int
    overage: int
    lots: list[LotView]
    periods: list[PeriodView]


@dataclass(frozen=True, slots=True)
class EntryView:
    seq: int
    txn_id: int
    at: str
    account: str
    unit: str
    lot_id: int | None
    kind: str
    delta: int
    held_delta: int
    balance_after: int
    counterparty: str
    actor: str
    reason: str | None
    key: str


def summary(ctx: Context, account: str, unit: str) -> Summary:
    """The balance of ``account`` in ``unit``, its live lots and its plans' current periods."""
    now = ctx.clock.now()
    with ctx.store.read() as tx:
        row = lookup.account(tx, account)
        the_unit = lookup.unit(tx, unit)
        balance = tx.read_balance(row.id, unit)
        totals = (balance.balance, balance.reserved, balance.assigned) if balance else (0, 0, 0)
        lots = _lots(tx, row.id, unit, now)
        overage = tx.conn.execute(
            select(func.coalesce(func.sum(t.overages.c.credits), 0)).where(
                t.overages.c.account_id == row.id, t.overages.c.unit == unit
            )
        ).scalar_one()
        return Summary(
            account=account,
            unit=unit,
            scale=the_unit.scale,
            balance=totals[0],
            reserved=totals[1],
            assigned=totals[2],
            available=totals[0] - totals[1] - totals[2],
            overage=int(overage),
            lots=lots,
            periods=_periods(tx, row.id, unit),
        )


def _lots(tx: Tx, account_id: int, unit: str, now: datetime) -> list[LotView]:
    c = t.lots.c
    rows = tx.conn.execute(
        select(t.lots).where(c.account_id == account_id, c.unit == unit, t.LIVE_LOT)
    ).all()
    live = [r for r in rows if r.expires_at is None or r.expires_at > now or r.held > 0]
    live.sort(
        key=lambda r: draw_key(
            Lot(r.id, r.source, r.priority, r.expires_at, r.created_at, r.remaining, r.held)
        )
    )
    return [
        LotView(
            r.id,
            r.source,
            r.priority,
            r.amount,
            r.remaining,
            r.held,
            r.expires_at.isoformat() if r.expires_at else None,
            r.created_at.isoformat(),
            r.package_code,
        )
        for r in live
    ]


def _periods(tx: Tx, account_id: int, unit: str) -> list[PeriodView]:
    subs = (
        tx.conn.execute(
            select(t.subscriptions.c.id)
            .join(t.plans, t.plans.c.code == t.subscriptions.c.plan_code)
            .where(
                t.subscriptions.c.account_id == account_id,
                t.plans.c.unit == unit,
                t.subscriptions.c.status == "active",
            )
            .order_by(t.subscriptions.c.id)
        )
        .scalars()
        .all()
    )
    views = []
    for sub_id in subs:
        sub = subscriptions.view(tx, sub_id)
        lot = tx.conn.execute(
            select(t.lots.c.amount, t.lots.c.remaining).where(
                t.lots.c.subscription_id == sub_id, t.lots.c.period_index == sub["period_index"]
            )
        ).first()
        views.append(
            PeriodView(
                plan=sub["plan"],
                credits=lot.amount if lot else 0,
                left=lot.remaining if lot else 0,
                started_at=sub["period_start_at"],
                next_reset_at=sub["next_renewal_at"],
            )
        )
    return views


def journal(
    ctx: Context,
    *,
    account: str | None = None,
    unit: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> list[EntryView]:
    """Journal entries in order, filtered; page with ``after_seq`` (the last seq seen)."""
    check_count(limit, "limit", low=1, high=10_000)
    check_count(after_seq, "after", high=2**63 - 1)
    e = t.entries.c
    query = (
        select(
            t.entries,
            t.accounts.c.ref,
            t.transactions.c.actor,
            t.transactions.c.reason,
            t.transactions.c.idem_key,
        )
        .join(t.accounts, t.accounts.c.id == e.account_id)
        .join(t.transactions, t.transactions.c.id == e.txn_id)
        .where(e.seq > after_seq)
        .order_by(e.seq)
        .limit(limit)
    )
    with ctx.store.read() as tx:
        if account is not None:
            query = query.where(e.account_id == lookup.account(tx, account).id)
        if unit is not None:
            query = query.where(e.unit == check_code(unit, "unit"))  # unknown: nothing matches
        if kind is not None:
            if kind not in ENTRY_KINDS:
                raise InvalidInput(f"kind must be one of {', '.join(ENTRY_KINDS)}", value=kind)
            query = query.where(e.kind == kind)
        if since is not None:
            query = query.where(e.created_at >= check_instant(since, "since"))
        if until is not None:
            query = query.where(e.created_at < check_instant(until, "until"))
        return [_entry(r) for r in tx.conn.execute(query)]


def _entry(r: Any) -> EntryView:
    return EntryView(
        seq=r.seq,
        txn_id=r.txn_id,
        at=r.created_at.isoformat(),
        account=r.ref,
        unit=r.unit,
        lot_id=r.lot_id,
        kind=r.kind,
        delta=r.delta,
        held_delta=r.held_delta,
        balance_after=r.balance_after,
        counterparty=r.counterparty,
        actor=r.actor,
        reason=r.reason,
        key=r.idem_key,
    )
