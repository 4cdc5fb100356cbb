"""DirectMail [seed 003]: six-month resource packages, each its own lot with its own validity,
drawn soonest-expiry first; the free allowance outside them; then pay-as-you-go overage at the
volume price, or a refusal naming the shortfall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import postmeter as pm
from postmeter.store import tables as t
from tests.support.model import count_rows

OP = pm.OPERATOR


def package(code: str, credits: int, price_minor: int, *, months: int = 6) -> pm.Package:
    return pm.Package(code, code, "email", credits, months, 0, price_minor, "CNY", True)


@pytest.fixture
def books(ctx: pm.Context) -> pm.Context:
    pm.create_package(ctx, OP, "p-1k", package("dm-1k", 1_000, 1_000))
    pm.create_package(ctx, OP, "p-10k", package("dm-10k", 10_000, 9_000))
    pm.create_package(ctx, OP, "p-trial", package("dm-trial", 100, 100, months=1))
    pm.create_account(ctx, OP, "acct", "shop", "Shop", "ops@shop.test")
    return ctx


def test_each_package_is_its_own_lot_valid_six_months_from_its_purchase(
    books: pm.Context, clock: pm.FixedClock
) -> None:
    first = pm.buy(books, OP, "buy-1", "shop", "dm-1k")
    clock.advance(timedelta(days=61))
    second = pm.buy(books, OP, "buy-2", "shop", "dm-1k")
    assert first.expires_at == "2026-10-01T09:00:00+00:00"
    assert second.expires_at == "2026-12-01T09:00:00+00:00"
    assert first.lot_id != second.lot_id
    assert (first.price_minor, first.currency, first.extended_lots) == (1_000, "CNY", [])
    lots = pm.summary(books, "shop", "email").lots
    assert [(x.id, x.remaining, x.expires_at, x.package) for x in lots] == [
        (first.lot_id, 1_000, first.expires_at, "dm-1k"),
        (second.lot_id, 1_000, second.expires_at, "dm-1k"),
    ]
    pm.verify(books)


def test_the_package_whose_validity_ends_first_is_drawn_first(
    books: pm.Context, clock: pm.FixedClock
) -> None:
    big = pm.buy(books, OP, "buy-big", "shop", "dm-10k")  # bought first, ends October 1st
    clock.advance(timedelta(days=10))
    trial = pm.buy(books, OP, "buy-trial", "shop", "dm-trial")  # bought later, ends May 11th
    charge = pm.charge(books, OP, pm.ChargeRequest("send-1", "shop", "email", 150))
    assert charge.drawn == [[trial.lot_id, 100], [big.lot_id, 50]]
    assert (charge.balance, charge.available, charge.overage) == (9_950, 9_950, 0)
    pm.verify(books)


def test_the_free_allowance_is_drawn_before_any_package(books: pm.Context) -> None:
    pkg = pm.buy(books, OP, "buy", "shop", "dm-trial")
    free = pm.grant(books, OP, "free", "shop", "email", 200, reason="monthly free allowance")
    charge = pm.charge(books, OP, pm.ChargeRequest("send", "shop", "email", 250))
    assert charge.drawn == [[free.lot_id, 200], [pkg.lot_id, 50]]
    pm.verify(books)


def test_when_the_packages_are_used_up_the_rest_is_billed_as_overage_at_the_volume_price(
    books: pm.Context,
) -> None:
    pkg = pm.buy(books, OP, "buy", "shop", "dm-1k")
    pm.set_payg(books, OP, "payg", "shop", "email", (200, 100, "CNY"))  # 2.00 per 100 mails
    charge = pm.charge(books, OP, pm.ChargeRequest("send", "shop", "email", 1_200))
    assert charge.drawn == [[pkg.lot_id, 1_000]]
    assert (charge.overage, charge.balance, charge.available) == (200, 0, 0)
    then = pm.charge(books, OP, pm.ChargeRequest("send-2", "shop", "email", 30))
    assert (then.drawn, then.overage) == ([], 30)
    assert pm.summary(books, "shop", "email").overage == 230
    with books.store.read() as tx:
        rows = tx.conn.execute(
            select(t.overages.c.credits, t.overages.c.price_minor, t.overages.c.price_per,
                   t.overages.c.currency).order_by(t.overages.c.id)
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [(200, 200, 100, "CNY"), (30, 200, 100, "CNY")]
    pm.verify(books)


def test_without_pay_as_you_go_the_send_is_refused_naming_the_shortfall(books: pm.Context) -> None:
    pm.buy(books, OP, "buy", "shop", "dm-1k")
    entries = count_rows(books, "entries")
    with pytest.raises(pm.InsufficientCredits) as refused:
        pm.charge(books, OP, pm.ChargeRequest("send", "shop", "email", 1_200))
    assert refused.value.details["shortfall"] == 200
    assert refused.value.code == "insufficient_credits"
    assert count_rows(books, "entries") == entries
    assert pm.summary(books, "shop", "email").balance == 1_000
    pm.verify(books)


def test_pay_as_you_go_switched_off_refuses_again(books: pm.Context) -> None:
    pm.buy(books, OP, "buy", "shop", "dm-trial")
    pm.set_payg(books, OP, "on", "shop", "email", (200, 100, "CNY"))
    pm.set_payg(books, OP, "off", "shop", "email", None)
    with pytest.raises(pm.InsufficientCredits) as refused:
        pm.charge(books, OP, pm.ChargeRequest("send", "shop", "email", 101))
    assert refused.value.details["shortfall"] == 1
    assert pm.summary(books, "shop", "email").overage == 0


def test_an_expired_package_is_not_drawn_and_what_was_left_goes_to_breakage(
    books: pm.Context, clock: pm.FixedClock
) -> None:
    pkg = pm.buy(books, OP, "buy", "shop", "dm-1k")
    pm.charge(books, OP, pm.ChargeRequest("send", "shop", "email", 300))
    clock.set(datetime(2026, 10, 1, 9, tzinfo=UTC))  # the exact end of its validity
    report = pm.tick(books)
    assert (report.expiries, report.expired_credits) == (1, 700)
    expiry = pm.journal(books, account="shop", kind="expire")
    assert [(e.lot_id, e.delta, e.counterparty, e.balance_after) for e in expiry] == [
        (pkg.lot_id, -700, "breakage", 0)
    ]
    with pytest.raises(pm.InsufficientCredits) as refused:
        pm.charge(books, OP, pm.ChargeRequest("send-2", "shop", "email", 1))
    assert refused.value.details["shortfall"] == 1
    pm.verify(books)


def test_a_package_is_usable_until_the_instant_before_its_expiry(
    books: pm.Context, clock: pm.FixedClock
) -> None:
    pm.buy(books, OP, "buy", "shop", "dm-trial")
    clock.set(datetime(2026, 5, 1, 9, tzinfo=UTC) - timedelta(microseconds=1))
    assert pm.tick(books).expiries == 0
    assert pm.charge(books, OP, pm.ChargeRequest("last", "shop", "email", 100)).balance == 0
