"""Plan subscriptions: each period grants one lot that expires when the period ends.

Unused credits never roll over [Mailpro]; renewals are booked by ``tick``, each period exactly once
and in order, even after the engine was down for several periods.

A reseller plan (one with seats) grants its credits less C, what the reseller's children held of
the credits it gave them when the period began (never below 0): at renewal C stays, D goes to 0
and B = A - C, the old B not rolling over [white label]. Only an account's oldest active reseller
plan in a unit is reduced so. A child account has no plan of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update

from postmeter.domain import lots as lot_sources
from postmeter.domain.errors import InvalidInput, InvalidState, NotFound, Refused
from postmeter.domain.periods import MONTHLY, PeriodRule, monthly, rolling, zone
from postmeter.domain.validate import check_count, is_id
from postmeter.service import given, lookup
from postmeter.service.catalogue import Plan, plan
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.service.posting import grant_lot
from postmeter.store import tables as t
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    account: str
    plan: str
    started_at: str
    anchor_day: int | None
    period_index: int  # the current period
    period_start_at: str
    next_renewal_at: str
    status: str


def subscribe(
    ctx: Context,
    actor: Actor,
    key: str,
    account: str,
    plan_code: str,
    *,
    anchor_day: int | None = None,
) -> Subscription:
    """Start ``plan`` for ``account`` now and grant the first period's credits.

    A monthly plan renews on ``anchor_day`` (default: today's day in the account's time zone).
    A child account is refused (``Refused``): it spends what its parent gives it.
    """
    if anchor_day is not None:
        check_count(anchor_day, "anchor day", low=1, high=31)
    request = {"account": account, "plan": plan_code, "anchor_day": anchor_day}

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        row = lookup.account(tx, account)
        lookup.check_active(tx, row)
        the_plan = plan(tx, plan_code)
        if row.parent_id is not None:
            parent = tx.account_by_id(row.parent_id)
            raise Refused(
                f"account {account!r} is a child account of {parent.ref if parent else '?'!r}: "
                "a child has no plan of its own, its parent gives it credits",
                account=account,
            )
        if the_plan.period_kind != MONTHLY and anchor_day is not None:
            raise InvalidInput("only monthly plans have an anchor day")
        if tx.exists(t.subscriptions, account_id=row.id, plan_code=plan_code, status="active"):
            raise InvalidState(f"account {account!r} has plan {plan_code!r} already")
        day = anchor_day or now.astimezone(zone(row.timezone)).day
        anchor = day if the_plan.period_kind == MONTHLY else None
        rule = period_rule(the_plan, now, row.timezone, anchor)
        sub_id = tx.insert_row(
            t.subscriptions,
            {
                "account_id": row.id,
                "root_id": row.root_id,
                "plan_code": plan_code,
                "started_at": now,
                "anchor_day": anchor,
                "next_index": 1,
                "next_renewal_at": rule.boundary(1),
                "status": "active",
            },
        )
        grant_period(tx, txn_id, the_plan, sub_id, row, rule, 0)
        return view(tx, sub_id)

    result, _, _ = run_once(ctx, actor, key, "subscription.create", request, work)
    return Subscription(**result)


def cancel(ctx: Context, actor: Actor, key: str, subscription_id: int) -> Subscription:
    """Stop renewing; the current period's credits stay until the period ends."""

    def work(tx: Tx, _txn: int, _now: datetime) -> dict[str, Any]:
        sub = _subscription(tx, subscription_id)
        if sub.status != "active":
            raise InvalidState(f"subscription {subscription_id} is {sub.status}")
        tx.conn.execute(
            update(t.subscriptions)
            .where(t.subscriptions.c.id == subscription_id)
            .values(status="cancelled")
        )
        return view(tx, subscription_id)

    result, _, _ = run_once(ctx, actor, key, "subscription.cancel", {"id": subscription_id}, work)
    return Subscription(**result)


def renew(tx: Tx, txn_id: int, subscription_id: int, index: int) -> bool:
    """Grant period ``index`` if it is the next one due; False when it was granted already."""
    sub = _subscription(tx, subscription_id)
    if sub.status != "active" or sub.next_index != index:
        return False
    the_plan = plan(tx, sub.plan_code)
    account = tx.account_by_id(sub.account_id)
    assert account is not None
    rule = period_rule(the_plan, sub.started_at, account.timezone, sub.anchor_day)
    grant_period(tx, txn_id, the_plan, sub.id, account, rule, index)
    tx.conn.execute(
        update(t.subscriptions)
        .where(t.subscriptions.c.id == sub.id)
        .values(next_index=index + 1, next_renewal_at=rule.boundary(index + 1))
    )
    return True


def grant_period(
    tx: Tx,
    txn_id: int,
    the_plan: Plan,
    sub_id: int,
    account: Row[Any],
    rule: PeriodRule,
    index: int,
) -> None:
    period = rule.period(index)
    balance = tx.lock_balances([(account.id, the_plan.unit)])[(account.id, the_plan.unit)]
    credits = period_credits(tx, the_plan, sub_id, account.id, period.start_at)
    if credits == 0:
        return  # children hold the whole plan: nothing new to assign this period
    grant_lot(
        tx,
        balance,
        txn_id,
        period.start_at,
        source=lot_sources.FREE if the_plan.free else lot_sources.PLAN,
        credits=credits,
        expires_at=period.end_at,
        subscription_id=sub_id,
        period_index=index,
    )


def period_credits(tx: Tx, the_plan: Plan, sub_id: int, account_id: int, start_at: datetime) -> int:
    """What a period grants: the plan's credits, less C for the account's reseller plan.

    C is taken from the journal as it stood when the period began, not when tick runs, so a
    renewal booked late (downtime) grants what a timely one would have.
    """
    reseller = given.reseller_subscription(tx, account_id, the_plan.unit)
    if reseller is None or reseller.id != sub_id:
        return the_plan.credits
    return max(the_plan.credits - given.held_before(tx, account_id, the_plan.unit, start_at), 0)


def period_rule(
    the_plan: Plan, started_at: datetime, timezone: str, anchor_day: int | None
) -> PeriodRule:
    if the_plan.period_kind == MONTHLY:
        assert anchor_day is not None
        return monthly(started_at, anchor_day, timezone)
    assert the_plan.period_days is not None
    return rolling(started_at, the_plan.period_days, timezone)


def due(tx: Tx, now: datetime) -> Any:
    """The active subscription whose renewal is the earliest at or before ``now``."""
    c = t.subscriptions.c
    return tx.conn.execute(
        select(c.id, c.next_index, c.next_renewal_at)
        .where(c.status == "active", c.next_renewal_at <= now)
        .order_by(c.next_renewal_at, c.id)
        .limit(1)
    ).first()


def get_subscription(ctx: Context, subscription_id: int) -> Subscription:
    with ctx.store.read() as tx:
        return Subscription(**view(tx, subscription_id))


def list_subscriptions(ctx: Context, account: str) -> list[Subscription]:
    with ctx.store.read() as tx:
        row = lookup.account(tx, account)
        ids = tx.conn.scalars(
            select(t.subscriptions.c.id)
            .where(t.subscriptions.c.account_id == row.id)
            .order_by(t.subscriptions.c.id)
        )
        return [Subscription(**view(tx, sub_id)) for sub_id in ids]


def view(tx: Tx, subscription_id: int) -> dict[str, Any]:
    sub = _subscription(tx, subscription_id)
    account = tx.account_by_id(sub.account_id)
    assert account is not None
    rule = period_rule(plan(tx, sub.plan_code), sub.started_at, account.timezone, sub.anchor_day)
    current = sub.next_index - 1
    return {
        "id": sub.id,
        "account": account.ref,
        "plan": sub.plan_code,
        "started_at": sub.started_at.isoformat(),
        "anchor_day": sub.anchor_day,
        "period_index": current,
        "period_start_at": rule.boundary(current).isoformat(),
        "next_renewal_at": sub.next_renewal_at.isoformat(),
        "status": sub.status,
    }


def _subscription(tx: Tx, subscription_id: int) -> Row[Any]:
    row = None
    if is_id(subscription_id):
        row = tx.conn.execute(
            select(t.subscriptions).where(t.subscriptions.c.id == subscription_id)
        ).first()
    if row is None:
        raise NotFound(f"no subscription {subscription_id}", subscription=subscription_id)
    return row
