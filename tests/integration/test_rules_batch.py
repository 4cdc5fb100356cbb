"""A batch charge: many charges in one transaction, each with its own outcome; a refused item
books nothing and does not stop the others; keys repeated inside a batch are booked once."""

from __future__ import annotations

import pytest

import postmeter as pm
from tests.support.model import count_rows

OP = pm.OPERATOR


@pytest.fixture
def shop(ctx: pm.Context) -> pm.Context:
    pm.create_account(ctx, OP, "open", "shop", "Shop", "s@shop.test")
    pm.grant(ctx, OP, "credits", "shop", "email", 100, reason="opening balance")
    return ctx


def request(key: str, credits: int, account: str = "shop") -> pm.ChargeRequest:
    return pm.ChargeRequest(key, account, "email", credits)


def describe(outcome: pm.Outcome) -> tuple[str, int | None]:
    """An outcome as (what happened, balance after or shortfall)."""
    if outcome.error is not None:
        return (outcome.error.code, outcome.error.details.get("shortfall"))
    assert outcome.charge is not None
    return ("replayed" if outcome.charge.replayed else "charged", outcome.charge.balance)


def test_each_item_gets_its_own_outcome_and_refused_items_book_nothing(shop: pm.Context) -> None:
    entries = count_rows(shop, "entries")
    outcomes = pm.charge_batch(
        shop,
        OP,
        [
            request("a", 30),
            request("b", 200),  # more than is left
            request("c", 50),
            request("d", 5, account="nobody"),
            request("e", 0),
            request("", 5),
            request("f", 2**63),
            request("g", 21),  # 20 left after a and c
        ],
    )
    assert [describe(o) for o in outcomes] == [
        ("charged", 70),
        ("insufficient_credits", 130),
        ("charged", 20),
        ("not_found", None),
        ("invalid_amount", None),
        ("invalid_input", None),
        ("invalid_amount", None),
        ("insufficient_credits", 1),
    ]
    assert [o.request.key for o in outcomes] == ["a", "b", "c", "d", "e", "", "f", "g"]
    assert count_rows(shop, "entries") == entries + 2
    assert pm.summary(shop, "shop", "email").balance == 20
    pm.verify(shop)


def test_a_batch_shares_one_transaction_and_each_item_sees_the_ones_before(
    shop: pm.Context,
) -> None:
    outcomes = pm.charge_batch(shop, OP, [request(f"k{i}", 15) for i in range(8)])
    assert [describe(o) for o in outcomes] == [
        ("charged", 100 - 15 * (i + 1)) for i in range(6)
    ] + [
        ("insufficient_credits", 5),
        ("insufficient_credits", 5),
    ]
    txns = {o.charge.txn_id for o in outcomes if o.charge is not None}
    assert len(txns) == 6  # one transaction row (and key) per charge
    pm.verify(shop)


def test_a_key_repeated_inside_a_batch_is_booked_once_then_replayed(shop: pm.Context) -> None:
    first, second = pm.charge_batch(shop, OP, [request("k", 30), request("k", 30)])
    assert (describe(first), describe(second)) == (("charged", 70), ("replayed", 70))
    assert first.charge is not None
    assert second.charge is not None
    assert second.charge.txn_id == first.charge.txn_id
    assert pm.summary(shop, "shop", "email").balance == 70


def test_a_key_repeated_with_another_request_inside_a_batch_is_a_conflict(
    shop: pm.Context,
) -> None:
    first, second = pm.charge_batch(shop, OP, [request("k", 30), request("k", 40)])
    assert describe(first) == ("charged", 70)
    assert isinstance(second.error, pm.IdempotencyConflict)
    assert pm.summary(shop, "shop", "email").balance == 70


def test_a_key_whose_first_item_was_refused_is_tried_afresh(shop: pm.Context) -> None:
    outcomes = pm.charge_batch(shop, OP, [request("k", 500), request("k", 40), request("k", 40)])
    assert [describe(o) for o in outcomes] == [
        ("insufficient_credits", 400),
        ("charged", 60),
        ("replayed", 60),
    ]


def test_a_batch_replays_keys_charged_before_it(shop: pm.Context) -> None:
    before = pm.charge(shop, OP, request("k", 10))
    [again, other] = pm.charge_batch(shop, OP, [request("k", 10), request("k2", 10)])
    assert again.charge is not None
    assert (again.charge.txn_id, again.charge.replayed, again.charge.balance) == (
        before.txn_id,
        True,
        90,
    )
    assert describe(other) == ("charged", 80)


def test_a_batch_across_accounts_refuses_only_the_inactive_one(shop: pm.Context) -> None:
    pm.create_account(shop, OP, "open-2", "idle", "Idle", "i@idle.test")
    pm.grant(shop, OP, "credits-2", "idle", "email", 100, reason="opening balance")
    pm.set_status(shop, OP, "suspend", "idle", "suspended", "unpaid")
    outcomes = pm.charge_batch(
        shop, OP, [request("a", 10), request("b", 10, "idle"), request("c", 10)]
    )
    assert [describe(o) for o in outcomes] == [
        ("charged", 90),
        ("account_inactive", None),
        ("charged", 80),
    ]
    assert pm.summary(shop, "idle", "email").balance == 100


def test_an_empty_batch_does_nothing(shop: pm.Context) -> None:
    entries = count_rows(shop, "entries")
    assert pm.charge_batch(shop, OP, []) == []
    assert count_rows(shop, "entries") == entries


def test_a_single_charge_raises_what_a_batch_would_report(shop: pm.Context) -> None:
    with pytest.raises(pm.InsufficientCredits) as refused:
        pm.charge(shop, OP, request("k", 101))
    assert refused.value.details == {
        "account": "shop",
        "unit": "email",
        "shortfall": 1,
        "available": 100,
    }
