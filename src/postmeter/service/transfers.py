"""Transfers between a parent and its child account: credits added to the child, or taken back.

A transfer is one transaction under an idempotency key. It locks both balance rows in the fixed
order (account id, then unit), debits the giver's lots, gives the receiver ONE new lot, journals
each side with the other account as counterparty (``account:<id>``, kinds ``transfer_out`` and
``transfer_in``), and writes a row of the transfer history (``transfers``: + added, - taken back).

- **Adding** draws the parent's lots in draw-down order, up to its available credits. The child's
  new lot (source ``transfer``) never expires and is drawn like any other lot.
- **Taking back** takes only what the child holds of the credits *this* parent gave it, neither
  spent nor reserved, and never more than the child has available (what its senders'
  assignments set aside stays). Its own packages are its own. The parent's new lot expires with
  the period of its plan in the unit that contains now (taken-back credits are B again, and B
  does not roll over); a parent without a plan gets a lot that never expires.
- **Who**: the parent and its direct children only, and nothing leaves the tree. Refused, each
  changing nothing: ``NotFound`` (account or unit), ``OutsideTree`` (the other account is in
  another tree), ``Refused`` (same tree, but not a direct child of the parent; or the parent
  itself), ``AccountInactive`` (the parent or an account above it is not active; when adding,
  the child too: a suspended, blocked or closed child receives nothing, though credits may be
  taken back from it), ``InsufficientCredits`` (with the shortfall).

The API decides who may act for a parent (the operator, or the parent's own key); the service
checks the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select

from postmeter.domain import lots as lot_sources
from postmeter.domain.amounts import check_credits
from postmeter.domain.books import TRANSFER_IN, TRANSFER_OUT, Balance, account_party
from postmeter.domain.errors import InsufficientCredits, OutsideTree, Refused
from postmeter.domain.trees import check_same_tree
from postmeter.domain.validate import MAX_ID, check_code, check_count, check_text
from postmeter.service import given, lookup
from postmeter.service.catalogue import plan
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.service.posting import debit_postings, grant_lot
from postmeter.service.subscriptions import period_rule
from postmeter.store import tables as t
from postmeter.store.uow import Tx

ADD = "transfer"
TAKE_BACK = "transfer.take_back"


@dataclass(frozen=True, slots=True)
class Transfer:
    """One transfer as booked: ``credits`` > 0 added to the child, < 0 taken back."""

    txn_id: int
    parent: str
    child: str
    unit: str
    credits: int
    drawn: list[list[int]]  # [lot id, credits] taken from the giver, in draw-down order
    lot_id: int  # the receiver's new lot
    parent_balance: int  # after the transfer
    parent_available: int
    child_balance: int
    child_available: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class TransferRecord:
    """A line of the transfer history [white label]: when, which child, how much, who did it."""

    id: int
    txn_id: int
    at: str
    parent: str
    child: str
    child_email: str
    child_name: str
    unit: str
    credits: int  # + added to the child, - taken back
    actor: str
    reason: str | None


def transfer(
    ctx: Context,
    actor: Actor,
    key: str,
    parent: str,
    child: str,
    unit: str,
    credits: int,
    *,
    reason: str | None = None,
) -> Transfer:
    """Add ``credits`` of ``unit`` from ``parent`` to its direct child ``child``.

    >>> transfer(ctx, OPERATOR, "t-1", "whitelabel", "shop-1", "email", 300_000).credits
    300000
    """
    return _run(ctx, actor, key, ADD, parent, child, unit, credits, reason)


def take_back(
    ctx: Context,
    actor: Actor,
    key: str,
    parent: str,
    child: str,
    unit: str,
    credits: int,
    *,
    reason: str | None = None,
) -> Transfer:
    """Take back ``credits`` that ``parent`` gave ``child`` and the child has neither spent nor
    reserved; the result's ``credits`` is negative."""
    return _run(ctx, actor, key, TAKE_BACK, parent, child, unit, credits, reason)


def _run(
    ctx: Context,
    actor: Actor,
    key: str,
    operation: str,
    parent: str,
    child: str,
    unit: str,
    credits: int,
    reason: str | None,
) -> Transfer:
    check_credits(credits)
    if reason is not None:
        check_text(reason, "reason", 500)
    request: dict[str, Any] = {
        "parent": parent,
        "child": child,
        "unit": unit,
        "credits": credits,
        "reason": reason,
    }

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        parent_row, child_row = _pair(tx, parent, child)
        lookup.unit(tx, unit)
        lookup.check_active(tx, child_row if operation == ADD else parent_row)
        balances = tx.lock_balances([(parent_row.id, unit), (child_row.id, unit)])
        books = _Books(
            tx,
            txn_id,
            now,
            parent_row,
            child_row,
            balances[(parent_row.id, unit)],
            balances[(child_row.id, unit)],
        )
        moved = books.add(credits) if operation == ADD else books.take_back(credits)
        tx.insert_row(
            t.transfers,
            {
                "txn_id": txn_id,
                "parent_id": parent_row.id,
                "child_id": child_row.id,
                "root_id": parent_row.root_id,
                "unit": unit,
                "credits": moved["credits"],
                "actor": actor.name[:80],  # the transaction keeps the whole name
                "created_at": now,
            },
        )
        return moved

    result, txn_id, replayed = run_once(ctx, actor, key, operation, request, work, reason=reason)
    return Transfer(txn_id=txn_id, replayed=replayed, **result)


def _pair(tx: Tx, parent: str, child: str) -> tuple[Row[Any], Row[Any]]:
    """The parent and its direct child, or why credits may not move between them."""
    parent_row = lookup.account(tx, parent)
    child_row = lookup.account(tx, child)
    chain = [parent_row, *tx.ancestors(parent_row), child_row, *tx.ancestors(child_row)]
    try:
        check_same_tree(parent_row.id, child_row.id, {row.id: row.parent_id for row in chain})
    except OutsideTree as exc:
        raise OutsideTree(
            f"credits never leave their tree: account {child!r} is not in {parent!r}'s",
            parent=parent,
            child=child,
        ) from exc
    if child_row.parent_id != parent_row.id:
        raise Refused(
            f"account {child!r} is not a child of {parent!r}: credits move only between an "
            "account and its direct children",
            parent=parent,
            child=child,
        )
    return parent_row, child_row


@dataclass
class _Books:
    """The two locked balance rows of one transfer, and how credits move between them."""

    tx: Tx
    txn_id: int
    now: datetime
    parent: Row[Any]
    child: Row[Any]
    parent_balance: Balance
    child_balance: Balance

    def add(self, credits: int) -> dict[str, Any]:
        giver = self.parent_balance
        wanted = min(credits, max(giver.available, 0))
        postings, short = debit_postings(
            self.tx.live_lots(self.parent.id, giver.unit),
            wanted,
            self.now,
            kind=TRANSFER_OUT,
            counterparty=account_party(self.child.id),
        )
        drawn = wanted - short  # an expired lot tick has not reached gives nothing
        if drawn < credits:
            raise lookup.shortfall(
                self.tx, self.parent.ref, giver.unit, credits - drawn, drawn, "to transfer"
            )
        self.tx.post(giver, self.txn_id, postings, self.now)
        lot_id = self._lot(self.child_balance, self.parent, credits, expires_at=None)
        return self._result(credits, postings, lot_id)

    def take_back(self, credits: int) -> dict[str, Any]:
        giver = self.child_balance
        lots = given.free_lots(self.tx, self.parent.id, self.child.id, giver.unit)
        takeable = min(sum(max(lot.free, 0) for lot in lots), max(giver.available, 0))
        if credits > takeable:
            the_unit = lookup.unit(self.tx, giver.unit)
            raise InsufficientCredits(
                f"account {self.child.ref!r} holds {the_unit.format(takeable)} {giver.unit} "
                f"credits from {self.parent.ref!r} neither spent nor reserved: cannot take back "
                f"{the_unit.format(credits)}",
                account=self.child.ref,
                unit=giver.unit,
                shortfall=credits - takeable,
                available=takeable,
            )
        postings, short = debit_postings(
            lots, credits, self.now, kind=TRANSFER_OUT, counterparty=account_party(self.parent.id)
        )
        assert short == 0, "given lots never expire"
        self.tx.post(giver, self.txn_id, postings, self.now)
        expires_at = _period_end(self.tx, self.parent, giver.unit, self.now)
        lot_id = self._lot(self.parent_balance, self.child, credits, expires_at=expires_at)
        return self._result(-credits, postings, lot_id)

    def _lot(
        self, balance: Balance, other: Row[Any], credits: int, expires_at: datetime | None
    ) -> int:
        return grant_lot(
            self.tx,
            balance,
            self.txn_id,
            self.now,
            source=lot_sources.TRANSFER,
            credits=credits,
            expires_at=expires_at,
            kind=TRANSFER_IN,
            counterparty=account_party(other.id),
        )

    def _result(self, credits: int, postings: Any, lot_id: int) -> dict[str, Any]:
        return {
            "parent": self.parent.ref,
            "child": self.child.ref,
            "unit": self.parent_balance.unit,
            "credits": credits,
            "drawn": [[p.lot_id, -p.delta] for p in postings],
            "lot_id": lot_id,
            "parent_balance": self.parent_balance.balance,
            "parent_available": self.parent_balance.available,
            "child_balance": self.child_balance.balance,
            "child_available": self.child_balance.available,
        }


def _period_end(tx: Tx, account: Row[Any], unit: str, now: datetime) -> datetime | None:
    """When credits given back to ``account`` expire: at the end of the period that contains
    ``now`` of its plan in ``unit`` (its reseller plan, else its oldest other one that is not a
    free allowance), so they expire with B; never, without a plan. The period containing now,
    not the last one booked: between a period's end and the tick that renews it, they belong to
    the new one."""
    s, p = t.subscriptions.c, t.plans.c
    sub = tx.conn.execute(
        select(t.subscriptions)
        .join(t.plans, p.code == s.plan_code)
        .where(
            s.account_id == account.id,
            s.status == "active",
            p.unit == unit,
            p.free.is_(False),  # a free allowance is not what the parent assigns
        )
        .order_by((p.seats > 0).desc(), s.id)
        .limit(1)
    ).first()
    if sub is None:
        return None
    rule = period_rule(plan(tx, sub.plan_code), sub.started_at, account.timezone, sub.anchor_day)
    return rule.period(rule.index_at(now)).end_at


def transfer_history(
    ctx: Context,
    parent: str,
    *,
    child: str | None = None,
    unit: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[TransferRecord]:
    """The credits ``parent`` added to its children or took back, oldest first; page with
    ``after_id`` (the last id seen). Filters: one ``child``, one ``unit``."""
    check_count(limit, "limit", low=1, high=10_000)
    check_count(after_id, "after", high=MAX_ID)
    tr, txn = t.transfers.c, t.transactions.c
    kid, giver = t.accounts.alias("kid"), t.accounts.alias("giver")
    query = (
        select(
            t.transfers,
            giver.c.ref.label("parent_ref"),
            kid.c.ref.label("child_ref"),
            kid.c.email,
            kid.c.name,
            txn.actor.label("txn_actor"),
            txn.reason,
        )
        .join(giver, giver.c.id == tr.parent_id)
        .join(kid, kid.c.id == tr.child_id)
        .join(t.transactions, txn.id == tr.txn_id)
        .where(tr.id > after_id)
        .order_by(tr.id)
        .limit(limit)
    )
    with ctx.store.read() as tx:
        query = query.where(tr.parent_id == lookup.account(tx, parent).id)
        if child is not None:
            query = query.where(tr.child_id == lookup.account(tx, child).id)
        if unit is not None:
            query = query.where(tr.unit == check_code(unit, "unit"))  # unknown: nothing matches
        return [_record(row) for row in tx.conn.execute(query)]


def _record(row: Any) -> TransferRecord:
    return TransferRecord(
        id=row.id,
        txn_id=row.txn_id,
        at=row.created_at.isoformat(),
        parent=row.parent_ref,
        child=row.child_ref,
        child_email=row.email,
        child_name=row.name,
        unit=row.unit,
        credits=row.credits,
        actor=row.txn_actor,
        reason=row.reason,
    )
