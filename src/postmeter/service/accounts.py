"""Accounts: the operator's customers, in trees (a reseller and its child accounts).

A parent whose active plan has seats may have that many open (not closed) children: one more is
refused with ``SeatsExhausted``, whether opened, reopened or moved under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update

from postmeter.domain import lots as lot_sources
from postmeter.domain.amounts import check_credits
from postmeter.domain.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidState,
    OutsideTree,
    Refused,
)
from postmeter.domain.periods import zone
from postmeter.domain.trees import check_parent_change
from postmeter.domain.validate import (
    ACCOUNT_STATUSES,
    MAX_ID,
    check_currency,
    check_email,
    check_ref,
    check_text,
)
from postmeter.service import given, lookup, resellers
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.service.posting import grant_lot
from postmeter.store import tables as t
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class Account:
    ref: str
    name: str
    email: str
    timezone: str
    status: str
    parent: str | None
    created_at: str


def create_account(
    ctx: Context,
    actor: Actor,
    key: str,
    ref: str,
    name: str,
    email: str,
    timezone: str = "UTC",
    parent: str | None = None,
) -> Account:
    """Open an account (under ``parent`` for a child account) with each unit's sign-up credits."""
    check_ref(ref)
    check_text(name, "account name")
    check_email(email)
    zone(timezone)
    request = {"ref": ref, "name": name, "email": email, "timezone": timezone, "parent": parent}

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        if tx.account_by_ref(ref) is not None:
            raise AlreadyExists(f"account {ref!r} exists already", account=ref)
        parent_row = lookup.account(tx, parent) if parent is not None else None
        if parent_row is not None:
            resellers.check_seat(tx, parent_row)
        account_id = tx.insert_row(
            t.accounts,
            {
                "ref": ref,
                "name": name,
                "email": email,
                "timezone": timezone,
                "status": "active",
                "parent_id": parent_row.id if parent_row else None,
                "created_at": now,
                "root_id": parent_row.root_id if parent_row else None,
            },
        )
        if parent_row is None:
            tx.conn.execute(
                update(t.accounts).where(t.accounts.c.id == account_id).values(root_id=account_id)
            )
        _grant_signup_credits(tx, account_id, txn_id, now)
        return _view(tx, account_id)

    result, _, _ = run_once(ctx, actor, key, "account.create", request, work)
    return Account(**result)


def _grant_signup_credits(tx: Tx, account_id: int, txn_id: int, now: datetime) -> None:
    """Every unit with a sign-up policy gives the new account its free lot (Mailpro: 500)."""
    rows = tx.conn.execute(select(t.units).where(t.units.c.signup_credits > 0)).all()
    for unit in rows:
        balance = tx.lock_balances([(account_id, unit.code)])[(account_id, unit.code)]
        expires_at = now + timedelta(days=unit.signup_days) if unit.signup_days else None
        grant_lot(
            tx,
            balance,
            txn_id,
            now,
            source=lot_sources.FREE,
            credits=unit.signup_credits,
            expires_at=expires_at,
        )


def set_status(ctx: Context, actor: Actor, key: str, ref: str, status: str, reason: str) -> Account:
    """Suspend, block, close or reactivate an account; the reason is kept with the change."""
    if status not in ACCOUNT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(ACCOUNT_STATUSES)}", value=status)
    check_text(reason, "reason", 500)

    def work(tx: Tx, _txn: int, _now: datetime) -> dict[str, Any]:
        row = lookup.account(tx, ref)
        if row.status == "closed" and status != "closed" and row.parent_id is not None:
            parent = tx.account_by_id(row.parent_id)
            assert parent is not None, "accounts.parent_id has a foreign key"
            resellers.check_seat(tx, parent)  # a reopened child takes a seat again
        tx.conn.execute(update(t.accounts).where(t.accounts.c.id == row.id).values(status=status))
        return _view(tx, row.id)

    request = {"ref": ref, "status": status, "reason": reason}
    result, _, _ = run_once(ctx, actor, key, "account.status", request, work, reason=reason)
    return Account(**result)


def move_account(
    ctx: Context,
    actor: Actor,
    key: str,
    ref: str,
    new_parent: str,
    *,
    reason: str | None = None,
) -> Account:
    """Put account ``ref``, and the accounts below it, under ``new_parent`` in the same tree.

    Refused, changing nothing: ``new_parent`` is the account or below it (the tree would loop:
    ``InvalidInput``); it is in another tree (``OutsideTree``: every row carries its tree's id,
    so an account moves only inside its own tree); the account holds credits its parent gave it
    (``InvalidState``: take them back first, so they stay in the giver's books); it has a plan
    (``Refused``: a child has none); ``new_parent`` has no seat left (``SeatsExhausted``).
    Moving an account under the parent it has already changes nothing.

    >>> move_account(ctx, OPERATOR, "move-1", "shop-1", "agency-2").parent
    'agency-2'
    """
    if reason is not None:
        check_text(reason, "reason", 500)
    request = {"ref": ref, "parent": new_parent, "reason": reason}

    def work(tx: Tx, _txn: int, _now: datetime) -> dict[str, Any]:
        row = lookup.account(tx, ref)
        parent_row = lookup.account(tx, new_parent)
        _check_move(tx, row, parent_row)
        if row.parent_id != parent_row.id:
            tx.conn.execute(
                update(t.accounts).where(t.accounts.c.id == row.id).values(parent_id=parent_row.id)
            )
        return _view(tx, row.id)

    result, _, _ = run_once(ctx, actor, key, "account.move", request, work, reason=reason)
    return Account(**result)


def _check_move(tx: Tx, row: Row[Any], parent_row: Row[Any]) -> None:
    chain = [row, *tx.ancestors(row), parent_row, *tx.ancestors(parent_row)]
    holds_given = given.holds_given(tx, row.id)
    refs = {"account": row.ref, "parent": parent_row.ref}
    if parent_row.root_id != row.root_id:
        raise OutsideTree(
            f"account {row.ref!r} moves only inside its own tree, and {parent_row.ref!r} is in "
            "another",
            **refs,
        )
    try:
        check_parent_change(
            row.id,
            parent_row.id,
            {r.id: r.parent_id for r in chain},
            holds_given_credits=holds_given,
        )
    except InvalidInput as exc:  # said again with references, not ids
        raise InvalidInput(
            f"account {parent_row.ref!r} is {row.ref!r} or below it: the tree would loop", **refs
        ) from exc
    if row.parent_id == parent_row.id:
        return
    if holds_given:
        raise InvalidState(
            f"account {row.ref!r} holds credits its parent gave it: take them back before "
            "moving it",
            account=row.ref,
        )
    if tx.exists(t.subscriptions, account_id=row.id, status="active"):
        raise Refused(
            f"account {row.ref!r} has a plan, and a child has none: cancel it before moving",
            account=row.ref,
        )
    resellers.check_seat(tx, parent_row)


def set_payg(
    ctx: Context,
    actor: Actor,
    key: str,
    ref: str,
    unit: str,
    price: tuple[int, int, str] | None,
) -> dict[str, Any]:
    """Switch pay-as-you-go on at ``price`` (minor units per N credits, currency), or off."""
    if price is not None:
        minor, per, currency = price
        check_credits(minor, allow_zero=True)
        check_credits(per)
        check_currency(currency)
    request = {"ref": ref, "unit": unit, "price": list(price) if price else None}

    def work(tx: Tx, _txn: int, _now: datetime) -> dict[str, Any]:
        row = lookup.account(tx, ref)
        lookup.unit(tx, unit)
        tx.lock_balances([(row.id, unit)])
        minor, per, currency = price if price else (None, None, None)
        tx.conn.execute(
            update(t.balances)
            .where(t.balances.c.account_id == row.id, t.balances.c.unit == unit)
            .values(payg_price_minor=minor, payg_price_per=per, payg_currency=currency)
        )
        return {"account": ref, "unit": unit, "payg": _payg(price)}

    result, _, _ = run_once(ctx, actor, key, "account.payg", request, work)
    return result


def _payg(price: tuple[int, int, str] | None) -> dict[str, Any] | None:
    if price is None:
        return None
    minor, per, currency = price
    return {"price_minor": minor, "per": per, "currency": currency}


def get_account(ctx: Context, ref: str) -> Account:
    with ctx.store.read() as tx:
        return Account(**_view(tx, lookup.account(tx, ref).id))


def list_accounts(ctx: Context, parent: str | None = None) -> list[Account]:
    """Every account (or every child of ``parent``), in the order they were opened."""
    accounts, _ = page_accounts(ctx, parent, limit=1_000_000)
    return accounts


def page_accounts(
    ctx: Context,
    parent: str | None = None,
    *,
    after_id: int = 0,
    limit: int = 10_000,
    within: int | None = None,
) -> tuple[list[Account], int | None]:
    """Accounts in id order after ``after_id``: a page and the id to continue after (or None).

    ``within`` keeps only that account and the accounts below it.
    """
    after_id = min(max(after_id, 0), MAX_ID)  # ids are 32-bit: no account lies beyond
    with ctx.store.read() as tx:
        query = (
            select(t.accounts.c.id, t.accounts.c.parent_id)
            .where(t.accounts.c.id > after_id)
            .order_by(t.accounts.c.id)
            .limit(limit + 1)
        )
        if parent is not None:
            query = query.where(t.accounts.c.parent_id == lookup.account(tx, parent).id)
        if within is not None:
            root = tx.account_by_id(within)
            query = query.where(t.accounts.c.root_id == (root.root_id if root else -1))
        rows = tx.conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        page = [
            Account(**_view(tx, row.id))
            for row in rows
            if within is None or within in lookup.lineage(tx, row.id)
        ]
        return page, (rows[-1].id if more and rows else None)


def _view(tx: Tx, account_id: int) -> dict[str, Any]:
    row = tx.account_by_id(account_id)
    assert row is not None
    parent: Row[Any] | None = tx.account_by_id(row.parent_id) if row.parent_id else None
    return {
        "ref": row.ref,
        "name": row.name,
        "email": row.email,
        "timezone": row.timezone,
        "status": row.status,
        "parent": parent.ref if parent else None,
        "created_at": row.created_at.isoformat(),
    }


def lineage(ctx: Context, ref: str) -> list[int]:
    """The ids of ``ref`` and every account above it, nearest first (NotFound if none)."""
    with ctx.store.read() as tx:
        return lookup.lineage(tx, lookup.account(tx, ref).id)
