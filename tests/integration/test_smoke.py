"""The books open on both databases and a charge goes through end to end."""

from __future__ import annotations

import postmeter as pm


def test_a_charge_draws_from_a_grant_and_verify_is_clean(ctx: pm.Context) -> None:
    op = pm.OPERATOR
    pm.create_account(ctx, op, "a1", "acme", "Acme", "ops@acme.test")
    pm.grant(ctx, op, "g1", "acme", "email", 500, reason="welcome")
    charge = pm.charge(ctx, op, pm.ChargeRequest("c1", "acme", "email", 200))
    assert (charge.balance, charge.available, charge.overage) == (300, 300, 0)
    assert pm.verify(ctx).entries == 2
