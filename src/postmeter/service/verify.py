"""``verify``: every invariant of the books, checked over the whole database.

For each account and unit: the cached balance equals the sum of its lots' remaining and the sum of
its journal's deltas; the reserved total equals the lots' held credits, the journal's held deltas
and the open reservations' holds; every entry's balance-after is the running sum before it. For
each lot: never below zero, never holding more than it has, never more than it started with, and
its remaining and held equal its own journal. Transfers between accounts cancel out.

Transfers between a parent and its child: each history row matches its transaction's journal
(the child's side moved ``credits``, the parent's ``-credits``, each naming the other), every
entry naming an account belongs to one, both accounts are in the row's tree, and a child's given
lots never expire. For each reseller plan whose period is running (not between its end and the
tick that renews it) and whose credits are only the plan's: A = B + C + D (service/resellers.py).

Idempotency keys: unique in their scope, and each transaction's ``key_hash`` the hash of its scope
and key (store/keys.py), since that hash is how a replay finds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, select

from postmeter.domain import lots as lot_sources
from postmeter.domain.errors import BooksOutOfBalance
from postmeter.domain.resellers import ResellerBooks
from postmeter.service import resellers
from postmeter.service.context import Context
from postmeter.store import tables as t
from postmeter.store.keys import key_hash
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class VerifyReport:
    accounts: int
    lots: int
    entries: int


def verify(ctx: Context) -> VerifyReport:
    """Check the books; raise BooksOutOfBalance naming the first discrepancy found."""
    now = ctx.clock.now()
    with ctx.store.read() as tx:
        for problem in _problems(tx, now):
            raise BooksOutOfBalance(problem)
        return VerifyReport(
            accounts=tx.conn.execute(select(func.count()).select_from(t.balances)).scalar_one(),
            lots=tx.conn.execute(select(func.count()).select_from(t.lots)).scalar_one(),
            entries=tx.conn.execute(select(func.count()).select_from(t.entries)).scalar_one(),
        )


def _problems(tx: Tx, now: datetime) -> Iterator[str]:
    yield from _keys_unique(tx)
    yield from _keys_found_by_their_hash(tx)
    yield from _entries_have_transactions(tx)
    yield from _lot_shapes(tx)
    yield from _lots_against_journal(tx)
    yield from _balances_against_lots_and_journal(tx)
    yield from _reserved_against_holds(tx)
    yield from _assigned_against_senders(tx)
    yield from _running_balances(tx)
    yield from _transfers_cancel(tx)
    yield from _transfers_match_their_rows(tx)
    yield from _transfers_stay_in_their_tree(tx)
    yield from _given_credits_never_expire(tx)
    yield from _reseller_books(tx, now)


def _keys_unique(tx: Tx) -> Iterator[str]:
    c = t.transactions.c
    twice = tx.conn.execute(
        select(c.scope, c.idem_key)
        .group_by(c.key_hash, c.scope, c.idem_key)
        .having(func.count() > 1)
        .limit(1)
    ).first()
    if twice is not None:
        yield f"key {twice.idem_key!r} in scope {twice.scope!r}: more than one transaction"


def _keys_found_by_their_hash(tx: Tx) -> Iterator[str]:
    c = t.transactions.c
    after = 0
    while True:  # a page at a time, by id: a million keys need not be in memory at once
        rows = tx.conn.execute(
            select(c.id, c.scope, c.idem_key, c.key_hash)
            .where(c.id > after)
            .order_by(c.id)
            .limit(10_000)
        ).all()
        if not rows:
            return
        for row in rows:
            if row.key_hash != key_hash(row.scope, row.idem_key):
                yield (
                    f"transaction {row.id}: key_hash {row.key_hash} is not the hash of its scope"
                    f" and key (a replay of {row.idem_key!r} would not find it)"
                )
                return
        after = rows[-1].id


def _entries_have_transactions(tx: Tx) -> Iterator[str]:
    """Every entry belongs to a transaction (the journal has no foreign key: see tables.py)."""
    e = t.entries.c
    orphan = tx.conn.execute(
        select(e.seq, e.txn_id)
        .join(t.transactions, t.transactions.c.id == e.txn_id, isouter=True)
        .where(t.transactions.c.id.is_(None))
        .order_by(e.seq)
        .limit(1)
    ).first()
    if orphan is not None:
        yield f"entry {orphan.seq}: no transaction {orphan.txn_id}"


def _lot_shapes(tx: Tx) -> Iterator[str]:
    c = t.lots.c
    bad = tx.conn.execute(
        select(c.id, c.amount, c.remaining, c.held)
        .where((c.remaining < 0) | (c.held < 0) | (c.held > c.remaining) | (c.remaining > c.amount))
        .order_by(c.id)
        .limit(1)
    ).first()
    if bad is not None:
        yield (
            f"lot {bad.id}: amount {bad.amount}, remaining {bad.remaining}, held {bad.held} "
            "(need 0 <= held <= remaining <= amount)"
        )


def _lots_against_journal(tx: Tx) -> Iterator[str]:
    e = t.entries.c
    sums = (
        select(e.lot_id, func.sum(e.delta).label("delta"), func.sum(e.held_delta).label("held"))
        .where(e.lot_id.is_not(None))
        .group_by(e.lot_id)
        .subquery()
    )
    c = t.lots.c
    bad = tx.conn.execute(
        select(c.id, c.remaining, c.held, sums.c.delta, sums.c.held)
        .join(sums, sums.c.lot_id == c.id, isouter=True)
        .where(
            (func.coalesce(sums.c.delta, 0) != c.remaining)
            | (func.coalesce(sums.c.held, 0) != c.held)
        )
        .order_by(c.id)
        .limit(1)
    ).first()
    if bad is not None:
        yield (
            f"lot {bad.id}: remaining {bad.remaining} and held {bad.held}, but its journal "
            f"sums to {bad[3] or 0} and {bad[4] or 0}"
        )


def _balances_against_lots_and_journal(tx: Tx) -> Iterator[str]:
    lot_sums = (
        select(
            t.lots.c.account_id,
            t.lots.c.unit,
            func.sum(t.lots.c.remaining).label("remaining"),
            func.sum(t.lots.c.held).label("held"),
        )
        .group_by(t.lots.c.account_id, t.lots.c.unit)
        .subquery()
    )
    e = t.entries.c
    entry_sums = (
        select(
            e.account_id,
            e.unit,
            func.sum(e.delta).label("delta"),
            func.sum(e.held_delta).label("held"),
        )
        .group_by(e.account_id, e.unit)
        .subquery()
    )
    b = t.balances.c
    rows = tx.conn.execute(
        select(
            b.account_id,
            b.unit,
            b.balance,
            b.reserved,
            b.assigned,
            func.coalesce(lot_sums.c.remaining, 0),
            func.coalesce(lot_sums.c.held, 0),
            func.coalesce(entry_sums.c.delta, 0),
            func.coalesce(entry_sums.c.held, 0),
        )
        .join(
            lot_sums,
            (lot_sums.c.account_id == b.account_id) & (lot_sums.c.unit == b.unit),
            isouter=True,
        )
        .join(
            entry_sums,
            (entry_sums.c.account_id == b.account_id) & (entry_sums.c.unit == b.unit),
            isouter=True,
        )
        .order_by(b.account_id, b.unit)
    )
    for acc, unit, balance, reserved, assigned, lots_rem, lots_held, j_delta, j_held in rows:
        where = f"account {acc} {unit}"
        if not balance == lots_rem == j_delta:
            yield (
                f"{where}: balance {balance}, but its lots hold {lots_rem} and its journal "
                f"sums to {j_delta}"
            )
        if not reserved == lots_held == j_held:
            yield (
                f"{where}: reserved {reserved}, but its lots hold {lots_held} for "
                f"reservations and its journal sums to {j_held}"
            )
        if reserved + assigned > balance:
            yield f"{where}: reserved {reserved} + assigned {assigned} exceed balance {balance}"
    orphan = tx.conn.execute(
        select(t.lots.c.account_id, t.lots.c.unit)
        .join(
            t.balances,
            (t.balances.c.account_id == t.lots.c.account_id) & (t.balances.c.unit == t.lots.c.unit),
            isouter=True,
        )
        .where(t.balances.c.account_id.is_(None))
        .limit(1)
    ).first()
    if orphan is not None:
        yield f"account {orphan[0]} {orphan[1]}: lots without a balance row"


def _reserved_against_holds(tx: Tx) -> Iterator[str]:
    r = t.reservations.c
    held = (
        select(r.account_id, r.unit, func.sum(t.holds.c.credits).label("total"))
        .join(t.holds, t.holds.c.reservation_id == r.id)
        .where(r.status == "held")
        .group_by(r.account_id, r.unit)
        .subquery()
    )
    bad = _balance_not_its_total(tx, "reserved", held)
    if bad is not None:
        yield (f"account {bad[0]} {bad[1]}: reserved {bad[2]}, but open reservations hold {bad[3]}")


def _assigned_against_senders(tx: Tx) -> Iterator[str]:
    """A balance row's ``assigned`` is what its senders' assignments have left, together."""
    s = t.senders.c
    given = (
        select(s.account_id, s.unit, func.sum(s.assigned).label("total"))
        .group_by(s.account_id, s.unit)
        .subquery()
    )
    bad = _balance_not_its_total(tx, "assigned", given)
    if bad is not None:
        yield (
            f"account {bad[0]} {bad[1]}: assigned {bad[2]}, but its senders' assignments have"
            f" {bad[3]} left"
        )


def _balance_not_its_total(tx: Tx, column: str, totals: Any) -> Any:
    """The first balance row whose ``column`` is not its account and unit's ``total`` in
    ``totals`` (none there counts 0): (account id, unit, column, total), or None."""
    b = t.balances.c
    total = func.coalesce(totals.c.total, 0)
    return tx.conn.execute(
        select(b.account_id, b.unit, b[column], total)
        .join(
            totals, (totals.c.account_id == b.account_id) & (totals.c.unit == b.unit), isouter=True
        )
        .where(b[column] != total)
        .limit(1)
    ).first()


def _running_balances(tx: Tx) -> Iterator[str]:
    """Each entry's balance-after is the sum of the deltas up to and including it."""
    e = t.entries.c
    running = select(
        e.seq,
        e.balance_after,
        func.sum(e.delta)
        .over(partition_by=(e.account_id, e.unit), order_by=e.seq)
        .label("running"),
    ).subquery()
    bad = tx.conn.execute(
        select(running.c.seq, running.c.balance_after, running.c.running)
        .where(running.c.balance_after != running.c.running)
        .order_by(running.c.seq)
        .limit(1)
    ).first()
    if bad is not None:
        yield f"entry {bad.seq}: balance after {bad.balance_after}, but the running sum is {bad[2]}"


def _transfers_cancel(tx: Tx) -> Iterator[str]:
    """Credits moved between accounts leave one exactly as they enter the other."""
    e = t.entries.c
    total = tx.conn.execute(
        select(e.unit, func.sum(e.delta))
        .where(e.counterparty.like(literal("account:%")))
        .group_by(e.unit)
        .having(func.sum(e.delta) != 0)
        .limit(1)
    ).first()
    if total is not None:
        yield f"transfers in {total[0]} do not cancel out: they sum to {total[1]}"


def _transfers_match_their_rows(tx: Tx) -> Iterator[str]:
    """Each row of the transfer history is what its transaction journaled, and back."""
    tr, e = t.transfers.c, t.entries.c
    child_side = func.sum(case((e.account_id == tr.child_id, e.delta), else_=0))
    parent_side = func.sum(case((e.account_id == tr.parent_id, e.delta), else_=0))
    bad = tx.conn.execute(
        select(tr.id, tr.credits, child_side, parent_side)
        .join(
            t.entries,
            and_(
                e.txn_id == tr.txn_id,
                e.counterparty.like(literal("account:%")),
            ),
            isouter=True,
        )
        .group_by(tr.id, tr.credits)
        .having(
            (func.coalesce(child_side, 0) != tr.credits)
            | (func.coalesce(parent_side, 0) != -tr.credits)
        )
        .order_by(tr.id)
        .limit(1)
    ).first()
    if bad is not None:
        yield (
            f"transfer {bad[0]} of {bad[1]}: its journal moved {bad[2] or 0} in the child and "
            f"{bad[3] or 0} in the parent"
        )
    stray = tx.conn.execute(
        select(e.seq, e.counterparty, tr.parent_id, tr.child_id)
        .join(t.transfers, tr.txn_id == e.txn_id, isouter=True)
        .where(
            e.counterparty.like(literal("account:%")),
            tr.id.is_(None)
            | ~(
                ((e.account_id == tr.parent_id) & (e.counterparty == _party(tr.child_id)))
                | ((e.account_id == tr.child_id) & (e.counterparty == _party(tr.parent_id)))
            ),
        )
        .order_by(e.seq)
        .limit(1)
    ).first()
    if stray is not None:
        seq, party, parent_id, child_id = stray
        if parent_id is None:
            yield f"entry {seq}: moves credits with {party} outside any transfer"
        else:
            yield f"entry {seq}: names {party}, but its transfer is {parent_id} -> {child_id}"


def _party(account_id: Any) -> Any:
    """``account:<id>`` in SQL, as domain.books.account_party writes it."""
    return literal("account:", String) + cast(account_id, String)


def _transfers_stay_in_their_tree(tx: Tx) -> Iterator[str]:
    tr = t.transfers.c
    giver, kid = t.accounts.alias("giver"), t.accounts.alias("kid")
    bad = tx.conn.execute(
        select(tr.id, tr.root_id, giver.c.root_id, kid.c.root_id)
        .join(giver, giver.c.id == tr.parent_id)
        .join(kid, kid.c.id == tr.child_id)
        .where((giver.c.root_id != tr.root_id) | (kid.c.root_id != tr.root_id))
        .order_by(tr.id)
        .limit(1)
    ).first()
    if bad is not None:
        yield f"transfer {bad[0]}: crosses trees ({bad[1]}, parent's {bad[2]}, child's {bad[3]})"


def _given_credits_never_expire(tx: Tx) -> Iterator[str]:
    lots, tr = t.lots.c, t.transfers.c
    bad = tx.conn.execute(
        select(lots.id, lots.expires_at)
        .join(t.transfers, and_(tr.txn_id == lots.txn_id, tr.child_id == lots.account_id))
        .where(
            tr.credits > 0,
            lots.source == lot_sources.TRANSFER,
            lots.expires_at.is_not(None),
        )
        .order_by(lots.id)
        .limit(1)
    ).first()
    if bad is not None:
        yield f"lot {bad[0]}: credits given to a child expire ({bad[1].isoformat()})"


def _reseller_books(tx: Tx, now: datetime) -> Iterator[str]:
    """A = B + C + D for each reseller plan whose period runs and whose credits are the plan's."""
    s, p = t.subscriptions.c, t.plans.c
    rows = tx.conn.execute(
        select(s.account_id, p.unit)
        .join(t.plans, p.code == s.plan_code)
        .where(s.status == "active", p.seats > 0, s.next_renewal_at > now)
        .distinct()
        .order_by(s.account_id, p.unit)
    ).all()
    for account_id, unit in rows:
        fig = resellers.figures(tx, account_id, unit)
        if fig is None or fig.subscription.next_renewal_at <= now:
            continue
        if not resellers.keeps_to_its_plan(tx, fig):
            continue
        try:
            ResellerBooks(fig.a, fig.b, fig.c, fig.d)
        except BooksOutOfBalance:
            yield (
                f"account {account_id} {unit}: reseller books need A = B + C + D, but "
                f"{fig.a} != {fig.b} + {fig.c} + {fig.d}"
            )
