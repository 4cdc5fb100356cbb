"""The journal: append-only, one entry per lot touched, each with the balance after it, who made
the change, why, and under which key; filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import postmeter as pm

OP = pm.OPERATOR
START = datetime(2026, 4, 1, 9, tzinfo=UTC)


@pytest.fixture
def books(ctx: pm.Context, clock: pm.FixedClock) -> pm.Context:
    pm.create_account(ctx, OP, "open-1", "acme", "Acme", "ops@acme.test")
    pm.create_account(ctx, OP, "open-2", "beta", "Beta", "ops@beta.test")
    pm.grant(ctx, OP, "g1", "acme", "email", 100, reason="welcome")
    pm.grant(ctx, OP, "g2", "acme", "email", 50, source="adjustment", reason="goodwill")
    clock.advance(timedelta(days=1))
    pm.charge(ctx, OP, pm.ChargeRequest("c1", "acme", "email", 120, "campaign-7"))
    pm.grant(ctx, OP, "g3", "beta", "email", 10, reason="welcome")
    return ctx


def test_every_change_is_an_entry_per_lot_carrying_the_balance_after_it(books: pm.Context) -> None:
    entries = pm.journal(books, account="acme")
    assert [(e.kind, e.delta, e.balance_after, e.counterparty) for e in entries] == [
        ("grant", 100, 100, "issuance"),
        ("grant", 50, 150, "issuance"),
        ("charge", -100, 50, "usage"),
        ("charge", -20, 30, "usage"),
    ]
    assert [e.key for e in entries] == ["g1", "g2", "c1", "c1"]
    assert [e.reason for e in entries] == ["welcome", "goodwill", "campaign-7", "campaign-7"]
    assert {e.actor for e in entries} == {"operator"}
    assert entries[2].txn_id == entries[3].txn_id  # one charge, two lots
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)


def test_the_journal_filters_by_account_kind_and_time(books: pm.Context) -> None:
    assert [e.account for e in pm.journal(books, kind="grant")] == ["acme", "acme", "beta"]
    assert [e.delta for e in pm.journal(books, account="beta")] == [10]
    day_two = START + timedelta(days=1)
    assert [e.kind for e in pm.journal(books, since=day_two)] == ["charge", "charge", "grant"]
    assert [e.kind for e in pm.journal(books, until=day_two)] == ["grant", "grant"]


def test_the_journal_pages_after_the_last_seq_seen(books: pm.Context) -> None:
    everything = pm.journal(books)
    first = pm.journal(books, limit=2)
    rest = pm.journal(books, after_seq=first[-1].seq)
    assert first + rest == everything
    assert len(everything) == 5


def test_nothing_is_edited_a_correction_is_a_new_entry(books: pm.Context) -> None:
    before = pm.journal(books)
    pm.correct_down(books, OP, "fix", "acme", "email", 5, reason="double grant")
    after = pm.journal(books)
    assert after[: len(before)] == before
    [fix] = after[len(before) :]
    assert (fix.kind, fix.delta, fix.balance_after, fix.reason) == (
        "adjust",
        -5,
        25,
        "double grant",
    )


@pytest.mark.parametrize(("limit", "after_seq"), [(0, 0), (10_001, 0), (10, -1)])
def test_bad_paging_is_refused(books: pm.Context, limit: int, after_seq: int) -> None:
    with pytest.raises(pm.InvalidInput):
        pm.journal(books, limit=limit, after_seq=after_seq)


def test_a_naive_since_is_refused_as_invalid_input(books: pm.Context) -> None:
    with pytest.raises(pm.InvalidInput):
        pm.journal(books, since=datetime(2026, 4, 2))
