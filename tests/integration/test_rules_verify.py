"""``verify``: clean after every scenario, and it finds tampering, naming what is wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

import postmeter as pm
from postmeter.store import tables as t

OP = pm.OPERATOR


def full_scenario(ctx: pm.Context, clock: pm.FixedClock) -> None:
    """Every kind of change the books know, over two months."""
    pm.set_policy(ctx, OP, "policy", "email", signup_credits=500, extend_on_purchase=True)
    pm.create_package(ctx, OP, "pkg", pm.Package("p1k", "1k", "email", 1_000, 1, 0, 900, "EUR",
                                                 True))  # fmt: skip
    pm.create_plan(ctx, OP, "plan", pm.Plan("acy", "acy", "email", 2_000, "days", 30, False, 1,
                                            0, 0, "EUR"))  # fmt: skip
    pm.create_account(ctx, OP, "a1", "acme", "Acme", "ops@acme.test", "Europe/Paris")
    pm.create_account(ctx, OP, "a2", "kid", "Kid", "kid@acme.test", parent="acme")
    pm.subscribe(ctx, OP, "s1", "acme", "acy")
    pm.buy(ctx, OP, "b1", "acme", "p1k")
    pm.grant(ctx, OP, "g1", "kid", "email", 300, source="adjustment",
             expires_at=clock.now() + timedelta(days=5), reason="trial")  # fmt: skip
    pm.charge_batch(ctx, OP, [pm.ChargeRequest(f"c{i}", "acme", "email", 400) for i in range(4)])
    held = pm.reserve(ctx, OP, "r1", "acme", "email", 900, clock.now() + timedelta(days=90))
    gone = pm.reserve(ctx, OP, "r2", "kid", "email", 200, clock.now() + timedelta(days=2))
    pm.set_payg(ctx, OP, "payg", "kid", "email", (1, 1, "EUR"))
    pm.charge(ctx, OP, pm.ChargeRequest("c-kid", "kid", "email", 700))
    pm.correct_down(ctx, OP, "fix", "acme", "email", 10, reason="duplicate grant")
    clock.advance(timedelta(days=20))
    pm.buy(ctx, OP, "b2", "acme", "p1k")
    clock.advance(timedelta(days=40))
    pm.tick(ctx)
    pm.capture(ctx, OP, "cap", held.id, 1_000)
    with pytest.raises(pm.InvalidState):
        pm.release(ctx, OP, "rel", gone.id)  # timed out already


@pytest.fixture
def books(ctx: pm.Context, clock: pm.FixedClock) -> pm.Context:
    full_scenario(ctx, clock)
    return ctx


def tamper(ctx: pm.Context, sql: str, **params: object) -> None:
    with ctx.store.engine.begin() as conn:
        assert conn.execute(text(sql), params).rowcount == 1


def account_id(ctx: pm.Context, ref: str) -> int:
    with ctx.store.read() as tx:
        row = tx.account_by_ref(ref)
        assert row is not None
        return int(row.id)


def a_lot(ctx: pm.Context) -> int:
    """A lot with something left, not held, so tampering stays within its bounds."""
    c = t.lots.c
    with ctx.store.read() as tx:
        lot_id = tx.conn.execute(
            select(c.id).where(c.remaining > c.held + 1).order_by(c.id).limit(1)
        ).scalar_one()
        return int(lot_id)


def test_verify_is_clean_after_a_full_scenario(books: pm.Context) -> None:
    report = pm.verify(books)
    assert report.accounts >= 2
    assert report.lots >= 6
    assert report.entries == len(pm.journal(books, limit=10_000))


def problem(ctx: pm.Context) -> str:
    """What ``verify`` names as out of balance ('' when the books balance)."""
    try:
        pm.verify(ctx)
    except pm.BooksOutOfBalance as found:
        return found.message
    return ""


@dataclass(frozen=True)
class Tampering:
    what: str
    change: str  # SQL run behind the engine's back, with :id
    undo: str
    names: str  # a regular expression for what verify must say, with {id}


TAMPERING = [
    Tampering(
        "a lot's remaining",
        "UPDATE lots SET remaining = remaining - 1 WHERE id = :id",
        "UPDATE lots SET remaining = remaining + 1 WHERE id = :id",
        r"^lot {id}: remaining \d+ and held \d+, but its journal sums to",
    ),
    Tampering(
        "a lot's held credits",
        "UPDATE lots SET held = held + 1 WHERE id = :id",
        "UPDATE lots SET held = held - 1 WHERE id = :id",
        r"^lot {id}: ",
    ),
    Tampering(
        "a lot holding more than its amount",
        "UPDATE lots SET amount = 0 - amount WHERE id = :id",
        "UPDATE lots SET amount = 0 - amount WHERE id = :id",
        r"^lot {id}: amount -\d+, remaining \d+, held \d+ \(need 0 <= held <= remaining",
    ),
    Tampering(
        "an account's balance row",
        "UPDATE balances SET balance = balance + 5 WHERE account_id = :id",
        "UPDATE balances SET balance = balance - 5 WHERE account_id = :id",
        r"^account {id} email: balance \d+, but its lots hold",
    ),
    Tampering(
        "an account's reserved total",
        "UPDATE balances SET reserved = reserved + 1 WHERE account_id = :id",
        "UPDATE balances SET reserved = reserved - 1 WHERE account_id = :id",
        r"^account {id} email: reserved",
    ),
    Tampering(
        "an account's assigned total",
        "UPDATE balances SET assigned = assigned + 1 WHERE account_id = :id",
        "UPDATE balances SET assigned = assigned - 1 WHERE account_id = :id",
        r"^account {id} email: assigned 1, but its senders' assignments have 0 left",
    ),
    Tampering(
        "an entry's balance after",
        "UPDATE entries SET balance_after = balance_after + 1 WHERE seq = :id",
        "UPDATE entries SET balance_after = balance_after - 1 WHERE seq = :id",
        r"^entry {id}: balance after \d+, but the running sum is",
    ),
    Tampering(
        "an entry's delta",
        "UPDATE entries SET delta = delta - 1 WHERE seq = :id",
        "UPDATE entries SET delta = delta + 1 WHERE seq = :id",
        r"^lot \d+: .* journal sums to",
    ),
    Tampering(
        "a closed reservation reopened",
        "UPDATE reservations SET status = 'held' WHERE id = :id",
        "UPDATE reservations SET status = 'timed_out' WHERE id = :id",
        r"^account \d+ email: reserved \d+, but open reservations hold",
    ),
]


def target(ctx: pm.Context, what: str) -> int:
    """The row each tampering goes for."""
    if what.startswith("a lot"):
        return a_lot(ctx)
    if what.startswith("an account's balance"):
        return account_id(ctx, "acme")
    if what.startswith("an account's"):
        return account_id(ctx, "kid")
    if what.startswith("an entry"):
        entry = next(e for e in pm.journal(ctx, account="acme") if e.delta != 0 and e.lot_id)
        return entry.seq
    with ctx.store.read() as tx:
        return int(
            tx.conn.execute(
                select(t.reservations.c.id).where(t.reservations.c.status == "timed_out")
            ).scalar_one()
        )


def test_verify_finds_each_tampering_and_names_it(books: pm.Context) -> None:
    for case in TAMPERING:
        row = target(books, case.what)
        tamper(books, case.change, id=row)
        found = problem(books)
        assert re.match(case.names.format(id=row), found), (case.what, found)
        tamper(books, case.undo, id=row)
        assert problem(books) == "", case.what


def test_verify_finds_a_deleted_entry(books: pm.Context) -> None:
    entry = next(e for e in pm.journal(books, account="acme") if e.delta != 0 and e.lot_id)
    tamper(books, "DELETE FROM entries WHERE seq = :seq", seq=entry.seq)
    assert problem(books).startswith(f"lot {entry.lot_id}: ")


def test_verify_is_clean_on_empty_books(ctx: pm.Context) -> None:
    assert pm.verify(ctx) == pm.VerifyReport(accounts=0, lots=0, entries=0)


def test_time_alone_keeps_the_books_balanced(ctx: pm.Context, clock: pm.FixedClock) -> None:
    full_scenario(ctx, clock)
    for day in range(1, 120, 7):
        clock.set(datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=day))
        pm.tick(ctx)
        pm.verify(ctx)
