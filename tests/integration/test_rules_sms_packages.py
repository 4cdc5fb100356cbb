"""The SMS platform [seed 002]: packages valid two years; with the operator's option, buying a new
package extends the expiry of the account's live package lots to the new package's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import postmeter as pm

OP = pm.OPERATOR
TWO_YEARS = pm.Package("sms-1000", "1,000 SMS credits", "sms", 100_000, 24, 0, 5_000, "EUR", True)


@pytest.fixture
def sms(ctx: pm.Context) -> pm.Context:
    pm.create_package(ctx, OP, "pkg", TWO_YEARS)
    pm.create_account(ctx, OP, "open", "club", "Club", "sms@club.test")
    return ctx


def expiries(ctx: pm.Context) -> dict[int, str | None]:
    return {x.id: x.expires_at for x in pm.summary(ctx, "club", "sms").lots}


def test_a_package_is_valid_for_two_years(sms: pm.Context) -> None:
    bought = pm.buy(sms, OP, "buy", "club", "sms-1000")
    assert bought.expires_at == "2028-04-01T09:00:00+00:00"
    summary = pm.summary(sms, "club", "sms")
    assert (summary.scale, summary.balance) == (2, 100_000)  # 1,000.00 credits


def test_buying_a_package_extends_the_live_package_lots_when_the_operator_says_so(
    sms: pm.Context, clock: pm.FixedClock
) -> None:
    pm.set_policy(sms, OP, "policy", "sms", extend_on_purchase=True)
    first = pm.buy(sms, OP, "buy-1", "club", "sms-1000")
    pm.charge(sms, OP, pm.ChargeRequest("campaign", "club", "sms", 20_000))
    clock.advance(timedelta(days=365))
    second = pm.buy(sms, OP, "buy-2", "club", "sms-1000")
    assert second.expires_at == "2029-04-01T09:00:00+00:00"
    assert second.extended_lots == [first.lot_id]
    assert expiries(sms) == {first.lot_id: second.expires_at, second.lot_id: second.expires_at}
    [extend] = pm.journal(sms, account="club", kind="extend")
    assert (extend.lot_id, extend.delta, extend.balance_after) == (first.lot_id, 0, 80_000)
    # The first package's old expiry passes without anything expiring.
    clock.set(datetime(2028, 4, 2, tzinfo=UTC))
    assert pm.tick(sms).expired_credits == 0
    assert pm.summary(sms, "club", "sms").balance == 180_000
    pm.verify(sms)


def test_without_the_option_each_package_keeps_its_own_expiry(
    sms: pm.Context, clock: pm.FixedClock
) -> None:
    first = pm.buy(sms, OP, "buy-1", "club", "sms-1000")
    clock.advance(timedelta(days=365))
    second = pm.buy(sms, OP, "buy-2", "club", "sms-1000")
    assert second.extended_lots == []
    assert expiries(sms) == {
        first.lot_id: "2028-04-01T09:00:00+00:00",
        second.lot_id: "2029-04-01T09:00:00+00:00",
    }
    clock.set(datetime(2028, 4, 1, 9, tzinfo=UTC))
    assert pm.tick(sms).expired_credits == 100_000


def test_expired_used_up_and_non_package_lots_are_not_extended(
    sms: pm.Context, clock: pm.FixedClock
) -> None:
    pm.set_policy(sms, OP, "policy", "sms", extend_on_purchase=True)
    trial = pm.Package("sms-trial", "trial", "sms", 1_000, 0, 7, 50, "EUR", True)
    pm.create_package(sms, OP, "pkg-short", trial)
    used_up = pm.buy(sms, OP, "buy-1", "club", "sms-1000")
    pm.charge(sms, OP, pm.ChargeRequest("all-of-it", "club", "sms", 100_000))
    expired = pm.buy(sms, OP, "buy-trial", "club", "sms-trial")
    assert expired.extended_lots == []  # the used-up package is not extended
    grant_expiry = datetime(2026, 6, 1, tzinfo=UTC)
    granted = pm.grant(sms, OP, "gift", "club", "sms", 500, source="adjustment",
                       expires_at=grant_expiry, reason="goodwill")  # fmt: skip
    clock.advance(timedelta(days=8))
    assert pm.tick(sms).expired_credits == 1_000
    bought = pm.buy(sms, OP, "buy-2", "club", "sms-1000")
    assert bought.extended_lots == []
    assert expiries(sms) == {granted.lot_id: grant_expiry.isoformat(),
                             bought.lot_id: bought.expires_at}  # fmt: skip
    assert used_up.lot_id not in expiries(sms)
    pm.verify(sms)


def test_sms_amounts_have_two_decimals(sms: pm.Context) -> None:
    pm.buy(sms, OP, "buy", "club", "sms-1000")
    charge = pm.charge(sms, OP, pm.ChargeRequest("one-sms", "club", "sms", 75))  # 0.75 credits
    assert pm.format_credits(charge.balance, 2) == "999.25"
    assert pm.parse_credits("999.25", 2) == charge.balance
