"""Dedicated IPs [AcyMailing]: an owner asks, the request records the sender's 30-day volume and
7-day rates at that moment, the operator approves or refuses; never granted by itself."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import postmeter as pm
from postmeter.domain import errors
from postmeter.service import dedicated_ips as ips
from postmeter.service import senders

OP = pm.OPERATOR


@pytest.fixture
def shop(ctx: pm.Context) -> pm.Context:
    pm.create_account(ctx, OP, "open", "shop", "Shop", "owner@shop.test")
    pm.grant(ctx, OP, "credits", "shop", "email", 100_000, reason="credits")
    senders.create_sender(ctx, OP, "s1", "shop", "news.shop.test", kind="domain", unit="email")
    return ctx


def report(ctx: pm.Context, day: date, sent: int, delivered: int, bounced: int, spam: int) -> None:
    ips.report_outcomes(
        ctx, OP, f"out-{day}-{sent}-{delivered}", "shop", "news.shop.test", day, sent=sent,
        delivered=delivered, hard_bounced=bounced, complained=spam,
    )  # fmt: skip


def send(ctx: pm.Context, key: str, credits: int) -> None:
    pm.charge(ctx, OP, pm.ChargeRequest(key, "shop", "email", credits, sender="news.shop.test"))


def test_a_request_freezes_the_figures_of_the_moment_it_was_made(
    shop: pm.Context, clock: pm.FixedClock
) -> None:
    send(shop, "old", 5_000)
    clock.advance(timedelta(days=31))  # that send leaves the 30-day window
    today = clock.now().date()
    send(shop, "a", 3_000)
    send(shop, "b", 1_000)
    pm.charge(shop, OP, pm.ChargeRequest("other", "shop", "email", 700))  # no sender: not its own
    report(shop, today - timedelta(days=8), 9_000, 1_000, 8_000, 0)  # outside the 7 days
    report(shop, today - timedelta(days=1), 4_000, 3_900, 12, 2)
    report(shop, today, 2_000, 1_960, 8, 1)
    asked = ips.ask_for_ip(shop, OP, "ask", "shop", "news.shop.test")
    assert (asked.state, asked.volume_30d, asked.sent_7d) == ("pending", 4_000, 6_000)
    assert (asked.delivered_7d, asked.hard_bounced_7d, asked.complained_7d) == (5_860, 20, 3)
    # 5,860 of 6,000 = 97.666...% -> 97.67%; 20 of 6,000 = 0.333...% -> 0.33%; 3 -> 0.05%
    assert (asked.delivered_bp, asked.hard_bounced_bp, asked.complained_bp) == (9_767, 33, 5)
    # Later sends and reports do not change what the request recorded.
    send(shop, "c", 10_000)
    report(shop, today, 2_000, 100, 1_900, 50)
    [kept] = ips.ip_requests(shop, "shop")
    assert kept == asked


def test_only_the_operator_decides_once_and_a_refusal_says_why(shop: pm.Context) -> None:
    first = ips.ask_for_ip(shop, OP, "ask-1", "shop", "news.shop.test")
    with pytest.raises(errors.InvalidInput):
        ips.decide_ip(shop, OP, "no-reason", first.id, approve=False)
    refused = ips.decide_ip(shop, OP, "no", first.id, approve=False, reason="volume too low")
    assert (refused.state, refused.reason, refused.decided_by) == (
        "refused",
        "volume too low",
        OP.name,
    )
    with pytest.raises(errors.InvalidState):
        ips.decide_ip(shop, OP, "yes-late", first.id, approve=True)
    second = ips.ask_for_ip(shop, OP, "ask-2", "shop", "news.shop.test")
    assert second.state == "pending"  # never granted by itself
    approved = ips.decide_ip(shop, OP, "yes", second.id, approve=True)
    assert approved.state == "approved"
    assert [r.state for r in ips.ip_requests(shop, "shop")] == ["approved", "refused"]


def test_bad_outcome_reports_and_requests_are_refused_and_change_nothing(
    shop: pm.Context, clock: pm.FixedClock
) -> None:
    today = clock.now().date()
    bad = [
        {"sent": 10, "delivered": 11, "hard_bounced": 0, "complained": 0},
        {"sent": 10, "delivered": 5, "hard_bounced": 6, "complained": 0},
        {"sent": 10, "delivered": 5, "hard_bounced": 0, "complained": 6},
        {"sent": -1, "delivered": 0, "hard_bounced": 0, "complained": 0},
        {"sent": 10**13, "delivered": 0, "hard_bounced": 0, "complained": 0},
    ]
    for i, counts in enumerate(bad):
        with pytest.raises(errors.InvalidInput):
            ips.report_outcomes(shop, OP, f"bad-{i}", "shop", "news.shop.test", today, **counts)
    with pytest.raises(errors.InvalidInput, match="still to come"):
        ips.report_outcomes(
            shop, OP, "future", "shop", "news.shop.test", today + timedelta(days=1),
            sent=1, delivered=1, hard_bounced=0, complained=0,
        )  # fmt: skip
    with pytest.raises(errors.NotFound):
        ips.ask_for_ip(shop, OP, "ghost", "shop", "ghost.shop.test")
    with pytest.raises(errors.NotFound):
        ips.decide_ip(shop, OP, "nothing", 42, approve=True)
    asked = ips.ask_for_ip(shop, OP, "ask", "shop", "news.shop.test")
    assert (asked.sent_7d, asked.delivered_bp) == (0, None)  # nothing reported: no rate
    assert len(ips.ip_requests(shop, "shop")) == 1
