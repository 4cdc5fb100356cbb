"""Senders [AcyMailing, SMS platform]: free access, a cap per period, an assignment; their
status; and expiry that takes unassigned credits first, the rest from assignments in proportion.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import postmeter as pm
from postmeter.domain import errors
from postmeter.domain.senders import ASSIGNMENT, CAP, Sharing
from postmeter.service import senders
from postmeter.store import tables as t

OP = pm.OPERATOR
START = datetime(2026, 4, 1, 9, tzinfo=UTC)
POOL = pm.Plan("acy-pool", "AcyMailing 20k", "email", 20_000, "days", 30, False, 3, 0, 0, "EUR")
CAPS = {"d1.test": 5_000, "d2.test": 8_000, "d3.test": 7_000}


def charge(ctx: pm.Context, key: str, credits: int, sender: str, account: str = "acy") -> pm.Charge:
    unit = "email" if account == "acy" else "sms"
    return pm.charge(ctx, OP, pm.ChargeRequest(key, account, unit, credits, sender=sender))


def journal_size(ctx: pm.Context) -> int:
    return len(pm.journal(ctx, limit=10_000))


@pytest.fixture
def acy(ctx: pm.Context) -> pm.Context:
    """AcyMailing's example: a pool of 20,000 per 30 days, domains capped 5,000/8,000/7,000."""
    pm.create_plan(ctx, OP, "plan", POOL)
    pm.create_account(ctx, OP, "open", "acy", "Acy licensee", "owner@acy.test")
    pm.subscribe(ctx, OP, "sub", "acy", "acy-pool")
    for name, cap in CAPS.items():
        senders.create_sender(
            ctx,
            OP,
            f"s-{name}",
            "acy",
            name,
            kind="domain",
            unit="email",
            sharing=Sharing(CAP, cap),
        )
    return ctx


def test_a_domain_at_its_cap_is_refused_while_the_others_still_send(acy: pm.Context) -> None:
    charge(acy, "a", 4_000, "d1.test")
    with pytest.raises(errors.CapReached) as refused:
        charge(acy, "b", 1_001, "d1.test")
    assert (refused.value.details["room"], refused.value.details["shortfall"]) == (1_000, 1)
    charge(acy, "c", 1_000, "d1.test")  # exactly to the cap
    charge(acy, "d", 8_000, "d2.test")
    charge(acy, "e", 6_999, "d3.test")
    assert pm.summary(acy, "acy", "email").balance == 20_000 - 4_000 - 1_000 - 8_000 - 6_999
    used = {s.name: s.cap_used for s in senders.list_senders(acy, "acy")}
    assert used == {"d1.test": 5_000, "d2.test": 8_000, "d3.test": 6_999}
    pm.verify(acy)


def test_the_pool_still_bounds_what_capped_domains_spend(acy: pm.Context) -> None:
    pm.correct_down(acy, OP, "cut", "acy", "email", 16_000, reason="a smaller pool")
    with pytest.raises(errors.InsufficientCredits) as refused:
        charge(acy, "a", 4_001, "d1.test")  # within its cap, beyond the pool
    assert (refused.value.details["shortfall"], refused.value.details["available"]) == (1, 4_000)
    charge(acy, "b", 4_000, "d1.test")
    with pytest.raises(errors.InsufficientCredits):
        charge(acy, "c", 1, "d2.test")
    assert senders.get_sender(acy, "acy", "d2.test").cap_used == 0


def test_caps_start_again_with_the_period(acy: pm.Context, clock: pm.FixedClock) -> None:
    charge(acy, "a", 5_000, "d1.test")
    with pytest.raises(errors.CapReached):
        charge(acy, "b", 1, "d1.test")
    clock.set(START + timedelta(days=30))
    pm.tick(acy)
    assert senders.get_sender(acy, "acy", "d1.test").cap_used == 0
    charge(acy, "c", 5_000, "d1.test")
    with pytest.raises(errors.CapReached):
        charge(acy, "d", 1, "d1.test")


def test_a_cap_counts_every_charge_of_a_batch(acy: pm.Context) -> None:
    requests = [
        pm.ChargeRequest(f"k{i}", "acy", "email", 2_000, sender="d1.test") for i in range(3)
    ]
    outcomes = pm.charge_batch(acy, OP, requests)
    assert [o.error.code if o.error else "charged" for o in outcomes] == [
        "charged",
        "charged",
        "cap_reached",
    ]
    assert senders.get_sender(acy, "acy", "d1.test").cap_used == 4_000
    assert pm.summary(acy, "acy", "email").balance == 16_000
    pm.verify(acy)


def test_a_blocked_domain_is_refused_and_the_operator_unblocks_it_on_request(
    acy: pm.Context,
) -> None:
    senders.change_status(acy, OP, "blk", "acy", "d2.test", "block", role="operator", reason="spam")
    with pytest.raises(errors.SenderInactive, match="blocked"):
        charge(acy, "a", 1, "d2.test")
    with pytest.raises(errors.Refused, match="only the operator"):
        senders.change_status(acy, OP, "u1", "acy", "d2.test", "unblock", role="owner")
    senders.change_status(
        acy, OP, "ask", "acy", "d2.test", "request_unblock", role="owner", reason="list cleaned"
    )
    senders.change_status(
        acy, OP, "no", "acy", "d2.test", "refuse_unblock", role="operator", reason="still spam"
    )
    assert senders.get_sender(acy, "acy", "d2.test").status == "blocked"
    senders.change_status(
        acy, OP, "ask2", "acy", "d2.test", "request_unblock", role="owner", reason="really clean"
    )
    senders.change_status(acy, OP, "yes", "acy", "d2.test", "approve_unblock", role="operator")
    charge(acy, "b", 1, "d2.test")
    history = senders.sender_history(acy, "acy", "d2.test")
    assert [(e.action, e.role, e.reason, e.after) for e in history] == [
        ("block", "operator", "spam", "blocked"),
        ("request_unblock", "owner", "list cleaned", "blocked"),
        ("refuse_unblock", "operator", "still spam", "blocked"),
        ("request_unblock", "owner", "really clean", "blocked"),
        ("approve_unblock", "operator", None, "active"),
    ]
    assert all(e.actor == OP.name for e in history)


def test_an_owner_suspends_and_resumes_its_domain(acy: pm.Context) -> None:
    senders.change_status(acy, OP, "s", "acy", "d3.test", "suspend", role="owner")
    with pytest.raises(errors.SenderInactive, match="suspended"):
        charge(acy, "a", 1, "d3.test")
    charge(acy, "b", 1, "d1.test")  # the others still send
    senders.change_status(acy, OP, "r", "acy", "d3.test", "resume", role="owner")
    charge(acy, "c", 1, "d3.test")


def test_bad_sender_input_is_refused_and_changes_nothing(acy: pm.Context) -> None:
    before = journal_size(acy)
    with pytest.raises(errors.InvalidInput):
        Sharing(CAP, -1)
    with pytest.raises(errors.NotFound):
        charge(acy, "a", 1, "nobody.test")
    with pytest.raises(errors.AlreadyExists):
        senders.create_sender(acy, OP, "dup", "acy", "d1.test", kind="domain", unit="email")
    with pytest.raises(errors.InvalidInput):
        senders.create_sender(acy, OP, "kind", "acy", "x.test", kind="pigeon", unit="email")
    with pytest.raises(errors.InvalidInput, match="cannot contain '/'"):  # a segment of its URLs
        senders.create_sender(acy, OP, "slash", "acy", "lists/Spring", kind="list", unit="email")
    with pytest.raises(errors.InvalidInput, match="sends email"):
        pm.charge(acy, OP, pm.ChargeRequest("sms", "acy", "sms", 1, sender="d1.test"))
    with pytest.raises(errors.InvalidInput):
        senders.change_status(acy, OP, "b", "acy", "d1.test", "block", role="operator")  # no why
    assert journal_size(acy) == before
    assert {s.name: s.status for s in senders.list_senders(acy, "acy")} == dict.fromkeys(
        CAPS, "active"
    )


# -- the SMS platform: lists with assignments ------------------------------------------------


@pytest.fixture
def sms(ctx: pm.Context) -> pm.Context:
    pm.create_account(ctx, OP, "open", "shop", "Shop", "owner@shop.test")
    expiry = START + timedelta(days=10)
    pm.grant(ctx, OP, "pack", "shop", "sms", 6_000, expires_at=expiry, reason="a package")
    pm.grant(ctx, OP, "keep", "shop", "sms", 1_000, reason="never expires")
    for name in ("list-a", "list-b", "list-c", "list-free"):
        senders.create_sender(ctx, OP, f"s-{name}", "shop", name, kind="list", unit="sms")
    return ctx


def assign(ctx: pm.Context, name: str, credits: int) -> senders.Sender:
    return senders.set_sharing(
        ctx, OP, f"as-{name}-{credits}", "shop", name, Sharing(ASSIGNMENT, credits)
    )


def assigned(ctx: pm.Context) -> tuple[dict[str, int], int]:
    """Each list's assignment left, and the account's total as its balance row keeps it."""
    with ctx.store.read() as tx:
        total = tx.conn.execute(select(t.balances.c.assigned)).scalar_one()
    return {s.name: s.assigned for s in senders.list_senders(ctx, "shop")}, total


def test_assigned_credits_are_set_aside_from_the_others(sms: pm.Context) -> None:
    assign(sms, "list-a", 3_000)
    assign(sms, "list-b", 2_000)
    assert pm.summary(sms, "shop", "sms").available == 2_000
    with pytest.raises(errors.InsufficientCredits):
        charge(sms, "free", 2_001, "list-free", account="shop")
    with pytest.raises(errors.AssignmentExhausted) as refused:
        charge(sms, "a1", 3_001, "list-a", account="shop")
    # Said in SMS credits (two decimals), the amounts in steps with their unit for the API.
    assert "has 30.00 credits left of its assignment; this needs 30.01" in str(refused.value)
    assert refused.value.details == {
        "sender": "list-a", "unit": "sms", "room": 3_000, "shortfall": 1
    }  # fmt: skip
    charge(sms, "a2", 3_000, "list-a", account="shop")
    charge(sms, "f", 2_000, "list-free", account="shop")
    assert assigned(sms) == ({"list-a": 0, "list-b": 2_000, "list-c": 0, "list-free": 0}, 2_000)
    with pytest.raises(errors.InsufficientCredits):
        assign(sms, "list-c", 1)  # nothing unassigned is left
    pm.verify(sms)


def test_expiry_takes_the_unassigned_first_then_the_assignments_in_proportion(
    sms: pm.Context, clock: pm.FixedClock
) -> None:
    assign(sms, "list-a", 3_000)
    assign(sms, "list-b", 2_000)
    assign(sms, "list-c", 1_001)  # 999 of the 7,000 stay unassigned
    clock.set(START + timedelta(days=10))
    assert pm.tick(sms).expired_credits == 6_000
    # 999 from the unassigned; 5,001 from 3,000 : 2,000 : 1,001, which does not divide evenly:
    # exact shares 2,500.08, 1,666.72 and 834.19; the one step left goes to the largest
    # remainder (list-b).
    lists, total = assigned(sms)
    assert lists == {"list-a": 500, "list-b": 333, "list-c": 167, "list-free": 0}
    assert total == 1_000 == pm.summary(sms, "shop", "sms").balance
    pm.verify(sms)


def test_an_assignment_shrinks_back_into_the_pool(sms: pm.Context) -> None:
    assign(sms, "list-a", 3_000)
    senders.set_sharing(sms, OP, "free-a", "shop", "list-a", Sharing())
    assert assigned(sms) == (dict.fromkeys(("list-a", "list-b", "list-c", "list-free"), 0), 0)
    assert pm.summary(sms, "shop", "sms").available == 7_000
