"""Senders: the domains and lists of an account, how each shares its credits, and their status.

A sender spends its account's credits of one unit in one of three modes (domain/senders.py):
free access, a cap per period, or an assignment (credits set aside, also its spending limit).
An assignment moves credits between the account's unassigned pool and the sender, so every
change of one locks the account's balance row and keeps ``balances.assigned`` equal to the sum
of its senders' assignments, in the same transaction.

A cap counts per period: the account's plan period on the sender's unit when it has a plan,
else the calendar month in the account's time zone. ``cap_used`` counts from ``cap_since``, the
start of the period it belongs to; a charge in a later period starts it again from zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from postmeter.domain import senders as rules
from postmeter.domain import statuses
from postmeter.domain.assignments import Pool, resize_assignment
from postmeter.domain.errors import AlreadyExists, InsufficientCredits, NotFound
from postmeter.domain.periods import monthly
from postmeter.domain.validate import MAX_ID, check_text
from postmeter.service import lookup
from postmeter.service.catalogue import plan
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.service.subscriptions import period_rule
from postmeter.store import tables as t
from postmeter.store.uow import Tx

MAX_NAME = 253  # a domain name's longest


@dataclass(frozen=True, slots=True)
class Sender:
    account: str
    name: str
    kind: str
    unit: str
    mode: str
    cap: int | None
    cap_used: int  # this period
    assigned: int  # what is left of its assignment
    status: str
    unblock_requested: bool


@dataclass(frozen=True, slots=True)
class SenderEvent:
    at: str
    action: str
    role: str
    actor: str
    reason: str | None
    before: str
    after: str


def create_sender(
    ctx: Context,
    actor: Actor,
    key: str,
    account: str,
    name: str,
    *,
    kind: str,
    unit: str,
    sharing: rules.Sharing | None = None,
) -> Sender:
    """Add a sender to ``account``; free access unless ``sharing`` says otherwise."""
    rules.check_kind(kind)
    rules.check_no_slash(check_text(name, "sender name", MAX_NAME))
    share = sharing or rules.Sharing()
    request = {"account": account, "name": name, "kind": kind, "unit": unit, **_share(share)}

    def work(tx: Tx, _txn: int, now: datetime) -> dict[str, Any]:
        row = lookup.account(tx, account)
        lookup.unit(tx, unit)
        if _find(tx, row.id, name) is not None:
            raise AlreadyExists(f"account {account!r} has a sender {name!r} already", sender=name)
        sender_id = tx.insert_row(
            t.senders,
            {
                "account_id": row.id,
                "root_id": row.root_id,
                "unit": unit,
                "name": name,
                "kind": kind,
                "mode": rules.FREE_ACCESS,
                "cap": None,
                "cap_used": 0,
                "cap_since": None,
                "assigned": 0,
                "status": statuses.ACTIVE,
                "unblock_requested": False,
                "created_at": now,
            },
        )
        _apply_sharing(tx, sender_id, share)
        return _view(tx, sender_id, now)

    result, _, _ = run_once(ctx, actor, key, "sender.create", request, work, reason=None)
    return Sender(**result)


def set_sharing(
    ctx: Context, actor: Actor, key: str, account: str, name: str, sharing: rules.Sharing
) -> Sender:
    """Change how a sender shares: growing an assignment takes unassigned credits (refused
    with the shortfall when there are too few), shrinking or leaving one gives them back."""
    request = {"account": account, "name": name, **_share(sharing)}

    def work(tx: Tx, _txn: int, now: datetime) -> dict[str, Any]:
        row = _sender(tx, account, name)
        _apply_sharing(tx, row.id, sharing)
        return _view(tx, row.id, now)

    result, _, _ = run_once(ctx, actor, key, "sender.share", request, work)
    return Sender(**result)


def change_status(
    ctx: Context,
    actor: Actor,
    key: str,
    account: str,
    name: str,
    action: str,
    *,
    role: str,
    reason: str | None = None,
) -> Sender:
    """Suspend, resume, block, unblock, or ask for / decide an unblock, as ``role`` may."""
    if reason is not None:
        # Checked before the transaction row that keeps the reason is written: PostgreSQL
        # refuses a NUL in text with a driver error, not the InvalidInput the rules would give.
        check_text(reason, f"the reason to {str(action).replace('_', ' ')}", 500)
    request = {"account": account, "name": name, "action": action, "role": role}

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        row = _sender(tx, account, name)
        current = statuses.SenderStatus(row.status, row.unblock_requested)
        change = statuses.change_status(current, action, role, by=actor.name, reason=reason)
        tx.conn.execute(
            update(t.senders)
            .where(t.senders.c.id == row.id)
            .values(status=change.after.state, unblock_requested=change.after.unblock_requested)
        )
        tx.conn.execute(
            insert(t.sender_events).values(
                sender_id=row.id,
                txn_id=txn_id,
                action=action,
                role=role,
                actor=actor.name,
                reason=reason,
                before=change.before.state,
                after=change.after.state,
                created_at=now,
            )
        )
        return _view(tx, row.id, now)

    result, _, _ = run_once(
        ctx, actor, key, f"sender.{action}", {**request, "reason": reason}, work, reason=reason
    )
    return Sender(**result)


def get_sender(ctx: Context, account: str, name: str) -> Sender:
    with ctx.store.read() as tx:
        return Sender(**_view(tx, _sender(tx, account, name).id, ctx.clock.now()))


def list_senders(ctx: Context, account: str) -> list[Sender]:
    return page_senders(ctx, account)[0]


def page_senders(
    ctx: Context, account: str, *, after_id: int = 0, limit: int | None = None
) -> tuple[list[Sender], int | None]:
    """The account's senders in the order they were added, after ``after_id``: a page of at
    most ``limit`` (all when None) and the id to continue after (None at the end)."""
    with ctx.store.read() as tx:
        row = lookup.account(tx, account)
        s = t.senders.c
        query = select(s.id).where(s.account_id == row.id, s.id > _clamp(after_id))
        ids, more = _page(tx, query.order_by(s.id), limit)
        now = ctx.clock.now()
        return [Sender(**_view(tx, sender_id, now)) for sender_id in ids], more


def sender_history(ctx: Context, account: str, name: str) -> list[SenderEvent]:
    """Every status change of the sender, oldest first: who, as what, why."""
    return page_history(ctx, account, name)[0]


def page_history(
    ctx: Context, account: str, name: str, *, after_id: int = 0, limit: int | None = None
) -> tuple[list[SenderEvent], int | None]:
    """The sender's status changes, oldest first, after ``after_id``: a page and the id to
    continue after (None at the end)."""
    with ctx.store.read() as tx:
        sender_id = _sender(tx, account, name).id
        e = t.sender_events.c
        query = select(e.id).where(e.sender_id == sender_id, e.id > _clamp(after_id))
        ids, more = _page(tx, query.order_by(e.id), limit)
        rows = tx.conn.execute(
            select(e.created_at, e.action, e.role, e.actor, e.reason, e.before, e.after)
            .where(e.id.in_(ids))
            .order_by(e.id)
        )
        return [SenderEvent(r.created_at.isoformat(), *r[1:]) for r in rows], more


def _clamp(after_id: int) -> int:
    """Ids are 32-bit: a position beyond any id has nothing after it (and PostgreSQL would
    refuse to compare the column with it)."""
    return min(max(after_id, 0), MAX_ID)


def _page(tx: Tx, query: Any, limit: int | None) -> tuple[list[int], int | None]:
    """The ids ``query`` selects, at most ``limit`` of them, and the last one when more follow:
    one row beyond the page tells whether there is a next page without a second query."""
    if limit is None:
        return list(tx.conn.scalars(query)), None
    ids = list(tx.conn.scalars(query.limit(limit + 1)))
    return ids[:limit], (ids[limit - 1] if len(ids) > limit else None)


# -- inside a unit of work: the charge path and expiry use these --------------------------------


def find_for_charge(tx: Tx, account_id: int, name: str) -> Row[Any] | None:
    return _find(tx, account_id, name)


def sender_row(tx: Tx, account: str, name: str) -> Row[Any]:
    """The sender ``name`` of ``account``, or NotFound."""
    return _sender(tx, account, name)


def account_id(tx: Tx, account: str) -> int:
    return int(lookup.account(tx, account).id)


def cap_period_start(tx: Tx, account: Row[Any], unit: str, now: datetime) -> datetime:
    """The start of the period a cap counts in: the plan's, else the calendar month's."""
    s = t.subscriptions.c
    sub = tx.conn.execute(
        select(s.plan_code, s.started_at, s.anchor_day)
        .select_from(t.subscriptions.join(t.plans, t.plans.c.code == s.plan_code))
        .where(s.account_id == account.id, s.status == "active", t.plans.c.unit == unit)
        .order_by(s.id)
        .limit(1)
    ).first()
    if sub is None:
        rule = monthly(account.created_at, 1, account.timezone)
    else:
        rule = period_rule(
            plan(tx, sub.plan_code), sub.started_at, account.timezone, sub.anchor_day
        )
    return rule.boundary(max(rule.index_at(now), 0))


def _apply_sharing(tx: Tx, sender_id: int, sharing: rules.Sharing) -> None:
    row = tx.conn.execute(select(t.senders).where(t.senders.c.id == sender_id)).one()
    wanted = sharing.limit if sharing.mode == rules.ASSIGNMENT else 0
    assert wanted is not None
    if wanted != row.assigned:
        key = (row.account_id, row.unit)
        balance = tx.lock_balances([key])[key]
        try:
            growth = resize_assignment(row.name, row.assigned, wanted, Pool.of(balance))
        except InsufficientCredits as exc:
            raise _in_credits(tx, row, wanted, exc) from exc
        tx.conn.execute(
            update(t.balances)
            .where(t.balances.c.account_id == row.account_id, t.balances.c.unit == row.unit)
            .values(assigned=t.balances.c.assigned + growth)
        )
    tx.conn.execute(
        update(t.senders)
        .where(t.senders.c.id == sender_id)
        .values(
            mode=sharing.mode,
            cap=sharing.limit if sharing.mode == rules.CAP else None,
            assigned=wanted,
        )
    )


def _in_credits(
    tx: Tx, row: Row[Any], wanted: int, exc: InsufficientCredits
) -> InsufficientCredits:
    """The refusal said again in credits of the sender's unit, with the unit among its details
    (so an API answer shows the shortfall as a decimal): the rule counts in steps."""
    unit = lookup.unit(tx, row.unit)
    short, free = exc.details["shortfall"], exc.details["available"]
    return InsufficientCredits(
        f"cannot assign {unit.format(wanted)} {row.unit} credits to sender {row.name!r}: "
        f"{unit.format(short)} more than the unassigned credits (unassigned: "
        f"{unit.format(free)})",
        sender=row.name,
        unit=row.unit,
        shortfall=short,
        available=free,
    )


def _share(sharing: rules.Sharing) -> dict[str, Any]:
    return {"mode": sharing.mode, "limit": sharing.limit}


def _find(tx: Tx, account_id: int, name: str) -> Row[Any] | None:
    if not _could_be_name(name):
        return None  # no sender has it, and PostgreSQL would fail on a NUL in it
    return tx.conn.execute(
        select(t.senders).where(t.senders.c.account_id == account_id, t.senders.c.name == name)
    ).first()


def _could_be_name(name: object) -> bool:
    """Whether ``name`` could have passed ``create_sender``'s check (so may be looked up)."""
    return isinstance(name, str) and 0 < len(name) <= MAX_NAME and name.isprintable()


def _sender(tx: Tx, account: str, name: str) -> Row[Any]:
    row = _find(tx, lookup.account(tx, account).id, name)
    if row is None:
        raise NotFound(f"account {account!r} has no sender {name!r}", sender=name)
    return row


def _view(tx: Tx, sender_id: int, now: datetime) -> dict[str, Any]:
    row = tx.conn.execute(select(t.senders).where(t.senders.c.id == sender_id)).one()
    account = tx.account_by_id(row.account_id)
    assert account is not None
    used = row.cap_used  # counted since cap_since: nothing yet in a later period
    if row.cap_since is not None and row.cap_since < cap_period_start(tx, account, row.unit, now):
        used = 0
    return {
        "account": account.ref,
        "name": row.name,
        "kind": row.kind,
        "unit": row.unit,
        "mode": row.mode,
        "cap": row.cap,
        "cap_used": used,
        "assigned": row.assigned,
        "status": row.status,
        "unblock_requested": row.unblock_requested,
    }
