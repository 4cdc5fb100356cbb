"""AcyMailing [seed 000]: one pool of 20,000 credits per 30-day period; the summary shows the
credits left in the current period and the next date the pool goes back up to the maximum; a
renewal after downtime catches up, granting each missed period exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import postmeter as pm
from postmeter.store import tables as t

OP = pm.OPERATOR
START = datetime(2026, 4, 1, 9, tzinfo=UTC)
MULTISITE = pm.Plan("acy-multisite", "Multi-site + Sending", "email", 20_000, "days", 30, False,
                    3, 0, 0, "EUR")  # fmt: skip


@pytest.fixture
def license_(ctx: pm.Context) -> pm.Context:
    pm.create_plan(ctx, OP, "plan", MULTISITE)
    pm.create_account(ctx, OP, "open", "acy", "Acy licensee", "owner@acy.test")
    pm.subscribe(ctx, OP, "sub", "acy", "acy-multisite")
    return ctx


def period_lots(ctx: pm.Context) -> list[tuple[int | None, int, datetime, datetime | None]]:
    c = t.lots.c
    with ctx.store.read() as tx:
        rows = tx.conn.execute(
            select(c.period_index, c.remaining, c.created_at, c.expires_at).order_by(c.id)
        )
        return [(r.period_index, r.remaining, r.created_at, r.expires_at) for r in rows]


def test_the_summary_shows_the_credits_left_in_the_period_and_the_next_reset(
    license_: pm.Context,
) -> None:
    for key, credits in (("domain-1", 5_000), ("domain-2", 8_000)):
        pm.charge(license_, OP, pm.ChargeRequest(key, "acy", "email", credits))
    [period] = pm.summary(license_, "acy", "email").periods
    assert period.plan == "acy-multisite"
    assert (period.credits, period.left) == (20_000, 7_000)
    assert period.started_at == "2026-04-01T09:00:00+00:00"
    assert period.next_reset_at == "2026-05-01T09:00:00+00:00"  # 30 days after subscribing


def test_the_pool_goes_back_up_to_the_maximum_at_the_reset(
    license_: pm.Context, clock: pm.FixedClock
) -> None:
    pm.charge(license_, OP, pm.ChargeRequest("domain-1", "acy", "email", 13_000))
    clock.set(START + timedelta(days=30))
    report = pm.tick(license_)
    assert (report.renewals, report.expired_credits) == (1, 7_000)
    summary = pm.summary(license_, "acy", "email")
    [period] = summary.periods
    assert (summary.balance, period.left) == (20_000, 20_000)
    assert period.next_reset_at == "2026-05-31T09:00:00+00:00"
    pm.verify(license_)


def test_a_renewal_after_downtime_catches_up_each_period_exactly_once(
    license_: pm.Context, clock: pm.FixedClock
) -> None:
    clock.set(START + timedelta(days=95))
    report = pm.tick(license_)
    assert (report.renewals, report.expiries, report.expired_credits) == (3, 3, 60_000)
    assert report.events == [
        "tick:expire:1:2026-05-01T09:00:00+00:00",
        "tick:renew:1:1",
        "tick:expire:2:2026-05-31T09:00:00+00:00",
        "tick:renew:1:2",
        "tick:expire:3:2026-06-30T09:00:00+00:00",
        "tick:renew:1:3",
    ]
    # Each period's lot starts and ends when its period does, not when tick happened to run.
    assert period_lots(license_) == [
        (k, 20_000 if k == 3 else 0, START + timedelta(days=30 * k),
         START + timedelta(days=30 * (k + 1)))
        for k in range(4)
    ]  # fmt: skip
    again = pm.tick(license_)
    assert (again.renewals, again.expiries, again.events) == (0, 0, [])
    assert len(pm.journal(license_, account="acy", kind="grant")) == 4
    [period] = pm.summary(license_, "acy", "email").periods
    assert (period.left, period.next_reset_at) == (20_000, "2026-07-30T09:00:00+00:00")
    pm.verify(license_)


def test_ticking_at_every_boundary_grants_the_same_periods_as_catching_up(
    license_: pm.Context, clock: pm.FixedClock
) -> None:
    for k in range(1, 4):
        clock.set(START + timedelta(days=30 * k))
        assert pm.tick(license_).renewals == 1
        assert pm.tick(license_).renewals == 0
    clock.set(START + timedelta(days=95))
    assert pm.tick(license_).events == []
    assert len(pm.journal(license_, account="acy", kind="grant")) == 4
    assert pm.summary(license_, "acy", "email").balance == 20_000
    pm.verify(license_)


def test_a_plan_cannot_be_subscribed_twice(license_: pm.Context) -> None:
    with pytest.raises(pm.InvalidState):
        pm.subscribe(license_, OP, "again", "acy", "acy-multisite")


def test_only_monthly_plans_take_an_anchor_day(license_: pm.Context) -> None:
    pm.create_account(license_, OP, "other", "other", "Other", "o@acy.test")
    with pytest.raises(pm.InvalidInput, match="anchor"):
        pm.subscribe(license_, OP, "sub-2", "other", "acy-multisite", anchor_day=12)
