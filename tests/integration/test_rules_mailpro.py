"""Mailpro [seed 001]: 500 free credits at sign-up, drawn first; monthly plan credits that do
not roll over into the next month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import postmeter as pm

OP = pm.OPERATOR
MONTHLY = pm.Plan("mailpro-5k", "Mailpro 5,000", "email", 5_000, "monthly", None, False, 1, 0,
                  2_900, "EUR")  # fmt: skip


@pytest.fixture
def signup_500(ctx: pm.Context) -> pm.Context:
    pm.set_policy(ctx, OP, "policy", "email", signup_credits=500)
    pm.create_plan(ctx, OP, "plan", MONTHLY)
    return ctx


def test_a_new_account_gets_500_free_credits(signup_500: pm.Context) -> None:
    pm.create_account(signup_500, OP, "open", "rossi", "Rossi", "info@rossi.test", "Europe/Rome")
    summary = pm.summary(signup_500, "rossi", "email")
    assert (summary.balance, summary.available) == (500, 500)
    assert [(x.source, x.amount, x.expires_at) for x in summary.lots] == [("free", 500, None)]
    assert [e.kind for e in pm.journal(signup_500, account="rossi")] == ["grant"]
    pm.verify(signup_500)


def test_sign_up_credits_may_be_given_a_validity(ctx: pm.Context) -> None:
    pm.set_policy(ctx, OP, "policy", "email", signup_credits=500, signup_days=30)
    pm.create_account(ctx, OP, "open", "rossi", "Rossi", "info@rossi.test")
    [lot] = pm.summary(ctx, "rossi", "email").lots
    assert lot.expires_at == "2026-05-01T09:00:00+00:00"


def test_accounts_opened_before_the_policy_get_nothing(ctx: pm.Context) -> None:
    pm.create_account(ctx, OP, "early", "early", "Early", "e@early.test")
    pm.set_policy(ctx, OP, "policy", "email", signup_credits=500)
    assert pm.summary(ctx, "early", "email").balance == 0


def test_the_sign_up_credits_are_drawn_before_the_plans(signup_500: pm.Context) -> None:
    pm.create_account(signup_500, OP, "open", "rossi", "Rossi", "info@rossi.test", "Europe/Rome")
    pm.subscribe(signup_500, OP, "sub", "rossi", "mailpro-5k")
    free, plan = (x.id for x in pm.summary(signup_500, "rossi", "email").lots)
    charge = pm.charge(signup_500, OP, pm.ChargeRequest("send", "rossi", "email", 600))
    assert charge.drawn == [[free, 500], [plan, 100]]
    assert charge.balance == 4_900
    pm.verify(signup_500)


def test_unused_monthly_credits_do_not_roll_over(
    signup_500: pm.Context, clock: pm.FixedClock
) -> None:
    pm.create_account(signup_500, OP, "open", "rossi", "Rossi", "info@rossi.test", "Europe/Rome")
    sub = pm.subscribe(signup_500, OP, "sub", "rossi", "mailpro-5k")
    # April 1st, 11:00 in Rome: the plan renews on the 1st, at midnight in Rome.
    assert sub.anchor_day == 1
    assert sub.next_renewal_at == "2026-04-30T22:00:00+00:00"
    pm.charge(signup_500, OP, pm.ChargeRequest("send", "rossi", "email", 3_500))  # 500 + 3,000
    renewal = datetime(2026, 4, 30, 22, tzinfo=UTC)
    clock.set(renewal - timedelta(seconds=1))
    assert pm.tick(signup_500).events == []
    clock.set(renewal)
    report = pm.tick(signup_500)
    assert (report.renewals, report.expiries, report.expired_credits) == (1, 1, 2_000)
    summary = pm.summary(signup_500, "rossi", "email")
    assert summary.balance == 5_000  # not 7,000: April's 2,000 went to breakage
    [period] = summary.periods
    assert (period.left, period.started_at) == (5_000, "2026-04-30T22:00:00+00:00")
    assert period.next_reset_at == "2026-05-31T22:00:00+00:00"  # June 1st, midnight in Rome
    expired = pm.journal(signup_500, account="rossi", kind="expire")
    assert [(e.delta, e.counterparty, e.at) for e in expired] == [
        (-2_000, "breakage", "2026-04-30T22:00:00+00:00")
    ]
    pm.verify(signup_500)


def test_a_monthly_plan_renews_on_its_anchor_day_every_month(
    signup_500: pm.Context, clock: pm.FixedClock
) -> None:
    pm.create_account(signup_500, OP, "open", "rossi", "Rossi", "info@rossi.test")
    pm.subscribe(signup_500, OP, "sub", "rossi", "mailpro-5k", anchor_day=31)
    clock.set(datetime(2026, 7, 1, tzinfo=UTC))
    report = pm.tick(signup_500)
    assert report.renewals == 3  # April 30th, May 31st, June 30th
    [period] = pm.summary(signup_500, "rossi", "email").periods
    assert (period.started_at, period.next_reset_at) == (
        "2026-06-30T00:00:00+00:00",
        "2026-07-31T00:00:00+00:00",
    )
    assert pm.summary(signup_500, "rossi", "email").balance == 5_000 + 500
