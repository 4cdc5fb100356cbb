"""Idempotency on every change: the same key with the same request answers the first result and
writes nothing; the same key with another request is IdempotencyConflict and writes nothing; a
refused request wrote nothing, so its key can be used again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import postmeter as pm
from postmeter.service.grants import Grant
from tests.support.model import table_counts

OP = pm.OPERATOR
LATER = datetime(2026, 5, 1, tzinfo=UTC)
PACKAGE = pm.Package("p100", "100", "email", 100, 6, 0, 100, "EUR", True)
PLAN = pm.Plan("monthly", "Monthly", "email", 1_000, "monthly", None, False, 1, 0, 0, "EUR")


@dataclass
class World:
    """A customer with credits, a catalogue, and two open reservations."""

    ctx: pm.Context
    reservation: int = 0
    other_reservation: int = 0


@pytest.fixture
def world(ctx: pm.Context) -> World:
    pm.create_package(ctx, OP, "setup-package", PACKAGE)
    pm.create_package(ctx, OP, "setup-package-2", replace(PACKAGE, code="p200", credits=200))
    pm.create_plan(ctx, OP, "setup-plan", PLAN)
    pm.create_plan(ctx, OP, "setup-plan-2", replace(PLAN, code="other"))
    pm.create_account(ctx, OP, "setup-account", "acme", "Acme", "ops@acme.test")
    pm.grant(ctx, OP, "setup-grant", "acme", "email", 5_000, reason="opening balance")
    deadline = datetime(2026, 4, 2, tzinfo=UTC)
    w = World(ctx)
    w.reservation = pm.reserve(ctx, OP, "setup-r1", "acme", "email", 300, deadline).id
    w.other_reservation = pm.reserve(ctx, OP, "setup-r2", "acme", "email", 300, deadline).id
    return w


Call = Callable[[World, str], Any]


@dataclass(frozen=True)
class Operation:
    name: str
    first: Call  # the request
    other: Call  # another request, to send under the same key


def charge(credits: int, reference: str | None = None) -> Call:
    return lambda w, k: pm.charge(w.ctx, OP, pm.ChargeRequest(k, "acme", "email", credits,
                                                              reference))  # fmt: skip


def grant_one(w: World, key: str) -> Grant:
    return pm.grant(w.ctx, OP, key, "acme", "email", 1, reason="r")


def charge_one(w: World, key: str) -> pm.Charge:
    return pm.charge(w.ctx, OP, pm.ChargeRequest(key, "acme", "email", 1))


def batch_of_one(w: World, request: pm.ChargeRequest) -> pm.Outcome:
    """A batch with one item: its outcome, or the error that refused it, raised."""
    [outcome] = pm.charge_batch(w.ctx, OP, [request])
    if outcome.error is not None:
        raise outcome.error
    return outcome


OPERATIONS = [
    Operation(
        "create_account",
        lambda w, k: pm.create_account(w.ctx, OP, k, "new", "New", "n@new.test"),
        lambda w, k: pm.create_account(w.ctx, OP, k, "new", "New", "other@new.test"),
    ),
    Operation(
        "set_status",
        lambda w, k: pm.set_status(w.ctx, OP, k, "acme", "suspended", "unpaid invoice"),
        lambda w, k: pm.set_status(w.ctx, OP, k, "acme", "suspended", "another reason"),
    ),
    Operation(
        "set_payg",
        lambda w, k: pm.set_payg(w.ctx, OP, k, "acme", "email", (100, 1000, "EUR")),
        lambda w, k: pm.set_payg(w.ctx, OP, k, "acme", "email", (101, 1000, "EUR")),
    ),
    Operation(
        "grant",
        lambda w, k: pm.grant(w.ctx, OP, k, "acme", "email", 100, reason="gift"),
        lambda w, k: pm.grant(w.ctx, OP, k, "acme", "email", 101, reason="gift"),
    ),
    Operation(
        "grant_with_expiry",
        lambda w, k: pm.grant(w.ctx, OP, k, "acme", "email", 100, expires_at=LATER, reason="r"),
        lambda w, k: pm.grant(
            w.ctx, OP, k, "acme", "email", 100, expires_at=LATER + timedelta(days=1), reason="r"
        ),
    ),
    Operation(
        "correct_down",
        lambda w, k: pm.correct_down(w.ctx, OP, k, "acme", "email", 10, reason="double grant"),
        lambda w, k: pm.correct_down(w.ctx, OP, k, "acme", "email", 11, reason="double grant"),
    ),
    Operation(
        "create_plan",
        lambda w, k: pm.create_plan(w.ctx, OP, k, replace(PLAN, code="new")),
        lambda w, k: pm.create_plan(w.ctx, OP, k, replace(PLAN, code="new", credits=2_000)),
    ),
    Operation(
        "create_package",
        lambda w, k: pm.create_package(w.ctx, OP, k, replace(PACKAGE, code="p1000", credits=1_000)),
        lambda w, k: pm.create_package(w.ctx, OP, k, replace(PACKAGE, code="p1000", credits=900)),
    ),
    Operation(
        "create_unit",
        lambda w, k: pm.create_unit(w.ctx, OP, k, "push", "Push credits", 0),
        lambda w, k: pm.create_unit(w.ctx, OP, k, "push", "Push credits", 1),
    ),
    Operation(
        "set_policy",
        lambda w, k: pm.set_policy(w.ctx, OP, k, "email", signup_credits=500),
        lambda w, k: pm.set_policy(w.ctx, OP, k, "email", signup_credits=400),
    ),
    Operation(
        "subscribe",
        lambda w, k: pm.subscribe(w.ctx, OP, k, "acme", "monthly"),
        lambda w, k: pm.subscribe(w.ctx, OP, k, "acme", "other"),
    ),
    Operation(
        "buy",
        lambda w, k: pm.buy(w.ctx, OP, k, "acme", "p100"),
        lambda w, k: pm.buy(w.ctx, OP, k, "acme", "p200"),
    ),
    Operation(
        "reserve",
        lambda w, k: pm.reserve(w.ctx, OP, k, "acme", "email", 100, LATER),
        lambda w, k: pm.reserve(w.ctx, OP, k, "acme", "email", 101, LATER),
    ),
    Operation(
        "capture",
        lambda w, k: pm.capture(w.ctx, OP, k, w.reservation, 50),
        lambda w, k: pm.capture(w.ctx, OP, k, w.reservation, 60),
    ),
    Operation(
        "release",
        lambda w, k: pm.release(w.ctx, OP, k, w.reservation),
        lambda w, k: pm.release(w.ctx, OP, k, w.other_reservation),
    ),
    Operation("charge", charge(10), charge(11)),
    Operation("charge_reference", charge(10, "campaign-1"), charge(10, "campaign-2")),
    Operation(
        "charge_batch",
        lambda w, k: batch_of_one(w, pm.ChargeRequest(k, "acme", "email", 5)),
        lambda w, k: batch_of_one(w, pm.ChargeRequest(k, "acme", "email", 6)),
    ),
]


def footprint(ctx: pm.Context) -> dict[str, Any]:
    """Everything a change could write: the row count of every table, and the balance."""
    return {**table_counts(ctx), "summary": pm.summary(ctx, "acme", "email")}


def as_first(answer: Any) -> Any:
    """A replayed answer, put back as the first one was (charges say they were replayed)."""
    if isinstance(answer, pm.Outcome):
        assert answer.charge is not None
        return replace(answer, charge=as_first(answer.charge))
    if isinstance(answer, pm.Charge):
        assert answer.replayed
        return replace(answer, replayed=False)
    return answer


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_a_key_replays_its_first_answer_and_refuses_any_other_request(
    world: World, op: Operation, clock: pm.FixedClock
) -> None:
    first = op.first(world, "the-key")
    before = footprint(world.ctx)
    clock.advance(timedelta(minutes=5))  # a retry comes later: the answer is still the first

    assert as_first(op.first(world, "the-key")) == first
    assert footprint(world.ctx) == before

    with pytest.raises(pm.IdempotencyConflict) as refused:
        op.other(world, "the-key")
    assert refused.value.details == {"key": "the-key"}
    assert refused.value.code == "idempotency_key_reused"
    assert footprint(world.ctx) == before

    # A key belongs to its first request whatever the operation: another operation is refused.
    another = grant_one if op.name.startswith("charge") else charge_one
    with pytest.raises(pm.IdempotencyConflict):
        another(world, "the-key")
    assert footprint(world.ctx) == before
    pm.verify(world.ctx)


def test_a_refused_charge_can_be_retried_under_the_same_key_later(world: World) -> None:
    request = pm.ChargeRequest("send-42", "acme", "email", 6_000)
    before = footprint(world.ctx)
    with pytest.raises(pm.InsufficientCredits) as refused:
        pm.charge(world.ctx, OP, request)
    assert refused.value.details["shortfall"] == 1_600
    assert footprint(world.ctx) == before
    pm.grant(world.ctx, OP, "top-up", "acme", "email", 2_000, reason="top-up")
    done = pm.charge(world.ctx, OP, request)
    assert (done.replayed, done.balance) == (False, 1_000)
    assert pm.charge(world.ctx, OP, request) == replace(done, replayed=True)


def test_a_refused_request_does_not_take_its_key(world: World) -> None:
    with pytest.raises(pm.InsufficientCredits):
        pm.charge(world.ctx, OP, pm.ChargeRequest("k", "acme", "email", 6_000))
    # Nothing was kept under the key, so another request may use it.
    assert pm.charge(world.ctx, OP, pm.ChargeRequest("k", "acme", "email", 1)).credits == 1


def test_keys_are_scoped_to_the_actor(world: World) -> None:
    reseller = pm.Actor("reseller-app", scope="reseller-1")
    first = pm.charge(world.ctx, OP, pm.ChargeRequest("k", "acme", "email", 1))
    other = pm.charge(world.ctx, reseller, pm.ChargeRequest("k", "acme", "email", 2))
    assert (first.replayed, other.replayed, other.txn_id != first.txn_id) == (False, False, True)


@pytest.mark.parametrize("key", ["", "x" * 201, "caf\u00e9", "a\nb"])
def test_malformed_keys_are_refused_before_anything_is_written(world: World, key: str) -> None:
    before = footprint(world.ctx)
    with pytest.raises(pm.InvalidInput, match="idempotency key"):
        pm.grant(world.ctx, OP, key, "acme", "email", 1, reason="r")
    with pytest.raises(pm.InvalidInput, match="idempotency key"):
        pm.charge(world.ctx, OP, pm.ChargeRequest(key, "acme", "email", 1))
    assert footprint(world.ctx) == before
