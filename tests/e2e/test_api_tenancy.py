"""Tenant isolation, as a matrix generated from the app's own routes, on SQLite and PostgreSQL.

Two trees, each a root account with a child. Every route under /v1 (walked from ``app.routes``)
is called with its path parameters filled with tree A's objects, by a key that must not reach
them: tree B's key, and the key of A's own child account (which must not see its parent). It
answers 404, exactly as if the object did not exist, or 403 for operator-only routes, and the
books do not change. The same requests from A's own key succeed, so the 404s are tenancy, not
broken requests. Read-only keys change nothing on any route.

A route added later must be given its kind in ``KINDS`` below, or these tests fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import postmeter as pm
from postmeter.api.app import create_app
from tests.conftest import START
from tests.support.api import Caller, Route, api_routes, books, books_diff, mint, prefix_of, problem

TOMORROW = (START + timedelta(days=1)).isoformat()
FR = "+33612345678"  # a number the world's SMS rate card prices
QUOTE = "POST /v1/quotes"  # a read sent as POST (for its list): no key, read-only keys too


class Kind(Enum):
    TREE = "an object of one tree: 404 outside it"
    OPERATOR = "operator only: 403 for any account key"
    LIST = "a list: 200 with the caller's own tree only"
    CATALOGUE = "the operator's catalogue, the same for every key: 200"


@dataclass(frozen=True, slots=True)
class Objects:
    """One account's objects, for filling path parameters and bodies."""

    ref: str
    to_capture: int  # a held reservation
    to_release: int  # another one
    subscription: int
    key_prefix: str  # a key of this account that may be revoked
    sender: str = ""  # a sender of this account (free access, SMS)
    ip_request: int = 0  # a pending dedicated-IP request of that sender
    campaign: int = 0  # a scheduled campaign, to send
    campaign_to_cancel: int = 0  # another one


@dataclass(frozen=True, slots=True)
class Call:
    path: dict[str, object]
    body: Any = None
    query: dict[str, str] | None = None


_serial = itertools.count(1)


def _next() -> int:
    return next(_serial)


def _in(o: Objects, **path: object) -> Call:
    return Call({"ref": o.ref, "code": "email", "unit": "sms", **path})


def _with(o: Objects, body: Any = None, **path: object) -> Call:
    return Call({**_in(o).path, **path}, body)


def _sms(o: Objects, **extra: object) -> Call:
    """An SMS from ``o``'s account to a number the world's rate card prices."""
    return _with(o, {"account": o.ref, "unit": "sms", "text": "Hi", "numbers": [FR], **extra})


def _card(o: Objects, body: dict[str, Any]) -> Call:
    """A rate card version of its own date: two versions cannot start at one instant."""
    starts = (START + timedelta(days=30, minutes=_next())).isoformat()
    return _with(o, {**body, "effective_from": starts})


def _tree(o: Objects) -> tuple[str, str]:
    """The root and the child of ``o``'s tree (each tree is ``<t>-root`` and ``<t>-kid``):
    credits and accounts move between the two, whichever of them the matrix aims at."""
    tree = o.ref.rsplit("-", 1)[0]
    return f"{tree}-root", f"{tree}-kid"


def _between(o: Objects, body: dict[str, Any] | None = None, **path: object) -> Call:
    """A request on the root of ``o``'s tree naming its child (a transfer, a take-back...)."""
    return Call({**_in(o).path, "ref": _tree(o)[0], **path}, body)


def _sent(o: Objects, body: Any = None) -> Call:
    return _with(o, body, name=o.sender)


# Every /v1 route: its kind, and a valid request aimed at account ``o``'s objects.
KINDS: dict[str, tuple[Kind, Callable[[Objects], Call]]] = {
    "POST /v1/accounts": (
        Kind.TREE,
        lambda o: _with(
            o, {"ref": f"new-{_next()}", "name": "N", "email": "n@n.test", "parent": o.ref}
        ),
    ),
    "GET /v1/accounts": (Kind.LIST, _in),
    "GET /v1/accounts/{ref}": (Kind.TREE, _in),
    "POST /v1/accounts/{ref}/status": (
        Kind.OPERATOR,
        lambda o: _with(o, {"status": "active", "reason": "checked"}),
    ),
    "PUT /v1/accounts/{ref}/payg": (
        Kind.OPERATOR,
        lambda o: _with(o, {"unit": "sms", "price": "0.01"}),
    ),
    "GET /v1/units": (Kind.CATALOGUE, _in),
    "POST /v1/units": (
        Kind.OPERATOR,
        lambda o: _with(o, {"code": f"u{_next()}", "name": "U", "scale": 0}),
    ),
    "POST /v1/units/{code}/policy": (Kind.OPERATOR, lambda o: _with(o, {"signup_credits": 0})),
    "GET /v1/plans": (Kind.CATALOGUE, _in),
    "POST /v1/plans": (
        Kind.OPERATOR,
        lambda o: _with(
            o,
            {
                "code": f"p{_next()}",
                "name": "P",
                "unit": "email",
                "credits": 9,
                "period": "monthly",
            },
        ),
    ),
    "GET /v1/packages": (Kind.CATALOGUE, _in),
    "POST /v1/packages": (
        Kind.OPERATOR,
        lambda o: _with(
            o,
            {
                "code": f"k{_next()}",
                "name": "K",
                "unit": "email",
                "credits": 100,
                "price": "100",
                "validity_days": 30,
            },
        ),
    ),
    "POST /v1/accounts/{ref}/grants": (
        Kind.OPERATOR,
        lambda o: _with(o, {"unit": "sms", "credits": "1.00", "reason": "gift"}),
    ),
    "POST /v1/accounts/{ref}/corrections": (
        Kind.OPERATOR,
        lambda o: _with(o, {"unit": "sms", "credits": "1.00", "reason": "typo"}),
    ),
    "POST /v1/accounts/{ref}/purchases": (Kind.TREE, lambda o: _with(o, {"package": "s1k"})),
    "POST /v1/accounts/{ref}/subscriptions": (Kind.TREE, lambda o: _with(o, {"plan": "basic"})),
    "GET /v1/accounts/{ref}/subscriptions": (Kind.TREE, _in),
    "POST /v1/subscriptions/{subscription_id}/cancel": (
        Kind.TREE,
        lambda o: _in(o, subscription_id=o.subscription),
    ),
    "POST /v1/charges": (
        Kind.TREE,
        lambda o: _with(o, {"account": o.ref, "unit": "sms", "credits": "1.00"}),
    ),
    "POST /v1/charges/batch": (
        Kind.TREE,
        lambda o: _with(o, {"items": [{"account": o.ref, "unit": "sms", "credits": "1.00"}]}),
    ),
    "POST /v1/reservations": (
        Kind.TREE,
        lambda o: _with(
            o, {"account": o.ref, "unit": "sms", "credits": 1, "deadline_at": TOMORROW}
        ),
    ),
    "GET /v1/reservations/{reservation_id}": (
        Kind.TREE,
        lambda o: _in(o, reservation_id=o.to_capture),
    ),
    "POST /v1/reservations/{reservation_id}/capture": (
        Kind.TREE,
        lambda o: _with(o, {"credits": "0.50"}, reservation_id=o.to_capture),
    ),
    "POST /v1/reservations/{reservation_id}/release": (
        Kind.TREE,
        lambda o: _in(o, reservation_id=o.to_release),
    ),
    "GET /v1/accounts/{ref}/balances/{unit}": (Kind.TREE, _in),
    "GET /v1/journal": (Kind.TREE, lambda o: Call(_in(o).path, query={"account": o.ref})),
    "POST /v1/keys": (
        Kind.TREE,
        lambda o: _with(o, {"name": "k", "role": "account", "account": o.ref}),
    ),
    "GET /v1/keys": (Kind.LIST, _in),
    "POST /v1/keys/{prefix}/revoke": (Kind.TREE, lambda o: _in(o, prefix=o.key_prefix)),
    "POST /v1/tick": (Kind.OPERATOR, _in),
    "GET /v1/verify": (Kind.OPERATOR, _in),
    "GET /v1/rate-cards/{unit}": (Kind.OPERATOR, _in),
    "POST /v1/rate-cards/{unit}": (Kind.OPERATOR, lambda o: _card(o, {"rates": {"FR": 1}})),
    "POST /v1/rate-cards/{unit}/import": (Kind.OPERATOR, lambda o: _card(o, {"csv": "FR,1"})),
    "GET /v1/rate-cards/{unit}/export": (Kind.OPERATOR, _in),
    "GET /v1/accounts/{ref}/email-rate": (Kind.OPERATOR, _in),
    "PUT /v1/accounts/{ref}/email-rate": (Kind.OPERATOR, lambda o: _with(o, {"credits": 2})),
    "PUT /v1/plans/{code}/email-rate": (
        Kind.OPERATOR,
        lambda o: _with(o, {"credits": 2}, code="pro"),
    ),
    "POST /v1/quotes": (Kind.TREE, _sms),
    "POST /v1/sends": (Kind.TREE, _sms),
    "GET /v1/packages-per-country": (
        Kind.CATALOGUE,
        lambda o: Call(_in(o).path, query={"unit": "sms"}),
    ),
    "POST /v1/campaigns": (Kind.TREE, lambda o: _sms(o, deadline_at=TOMORROW)),
    "GET /v1/campaigns/{campaign_id}": (Kind.TREE, lambda o: _in(o, campaign_id=o.campaign)),
    "GET /v1/accounts/{ref}/campaigns": (Kind.TREE, _in),
    "POST /v1/campaigns/{campaign_id}/send": (
        Kind.TREE,
        lambda o: _in(o, campaign_id=o.campaign),
    ),
    "POST /v1/campaigns/{campaign_id}/cancel": (
        Kind.TREE,
        lambda o: _in(o, campaign_id=o.campaign_to_cancel),
    ),
    "POST /v1/accounts/{ref}/senders": (
        Kind.TREE,
        lambda o: _with(o, {"name": f"new-{_next()}.test", "unit": "sms"}),
    ),
    "GET /v1/accounts/{ref}/senders": (Kind.TREE, _in),
    "GET /v1/accounts/{ref}/senders/{name}": (Kind.TREE, _sent),
    "GET /v1/accounts/{ref}/senders/{name}/history": (Kind.TREE, _sent),
    "POST /v1/accounts/{ref}/senders/{name}/sharing": (
        Kind.TREE,
        lambda o: _sent(o, {"mode": "cap", "limit": "10.00"}),
    ),
    "POST /v1/accounts/{ref}/senders/{name}/status": (
        Kind.TREE,
        lambda o: _sent(o, {"action": "suspend", "reason": "paused"}),
    ),
    "POST /v1/accounts/{ref}/senders/{name}/outcomes": (
        Kind.OPERATOR,
        lambda o: _sent(o, {"day": START.date().isoformat(), "sent": 10, "delivered": 9}),
    ),
    "POST /v1/accounts/{ref}/senders/{name}/ip-requests": (Kind.TREE, _sent),
    "GET /v1/accounts/{ref}/ip-requests": (Kind.TREE, _in),
    "POST /v1/ip-requests/{request_id}/decision": (
        Kind.OPERATOR,
        lambda o: _with(o, {"decision": "approve"}, request_id=o.ip_request),
    ),
    "POST /v1/accounts/{ref}/transfers": (
        Kind.TREE,
        lambda o: _between(o, {"child": _tree(o)[1], "unit": "sms", "credits": "1.00"}),
    ),
    "POST /v1/accounts/{ref}/take-backs": (
        Kind.TREE,
        lambda o: _between(o, {"child": _tree(o)[1], "unit": "sms", "credits": "1.00"}),
    ),
    "GET /v1/accounts/{ref}/transfers": (Kind.TREE, _between),
    "GET /v1/accounts/{ref}/reseller/{unit}": (Kind.TREE, _between),
    # The move that leaves the child where it is: it succeeds and changes no parent.
    "POST /v1/accounts/{ref}/move": (
        Kind.TREE,
        lambda o: _with(o, {"parent": _tree(o)[0]}, ref=_tree(o)[1]),
    ),
}


@dataclass
class World:
    app: FastAPI
    client: TestClient
    op: Caller
    op_read_only: Caller
    keys: dict[str, Caller]  # account keys by name: a, a-ro, a-kid, b, b-ro
    objects: dict[str, Objects]  # by account ref
    visible: dict[str, set[str]]  # refs each account key may see
    own_prefixes: dict[str, set[str]]  # key prefixes each account key may list

    def send(self, who: Caller, route: Route, call: Call) -> httpx2.Response:
        url = route.url(call.path)
        if route.method == "GET":
            return who.get(url, call.query)
        return who.send(route.method, url, call.body, params=call.query)


def _account(op: Caller, ref: str, parent: str | None = None) -> None:
    op.ok(
        "POST",
        "/v1/accounts",
        {"ref": ref, "name": ref, "email": f"{ref}@x.test", "parent": parent},
    )
    op.ok("POST", f"/v1/accounts/{ref}/grants", {"unit": "sms", "credits": "100.00", "reason": "r"})
    op.ok("POST", f"/v1/accounts/{ref}/grants", {"unit": "email", "credits": 100, "reason": "r"})


def _objects(ctx: pm.Context, op: Caller, ref: str, parents_plan: int | None) -> Objects:
    reservation = {"account": ref, "unit": "sms", "credits": "2.00", "deadline_at": TOMORROW}
    held = [op.ok("POST", "/v1/reservations", reservation)["id"] for _ in range(2)]
    # A child has no plan of its own: its objects name its parent's subscription instead.
    sub = parents_plan or op.ok("POST", f"/v1/accounts/{ref}/subscriptions", {"plan": "pro"})["id"]
    op.ok("POST", f"/v1/accounts/{ref}/purchases", {"package": "s1k"})
    victim = mint(ctx, f"{ref}-victim", role="account", account=ref)
    sender = f"mail.{ref}.test"
    op.ok("POST", f"/v1/accounts/{ref}/senders", {"name": sender, "unit": "sms"})
    asked = op.ok("POST", f"/v1/accounts/{ref}/senders/{sender}/ip-requests")["id"]
    if parents_plan is None:
        op.ok("POST", f"/v1/accounts/{ref}/subscriptions", {"plan": "resell"})
    else:  # a child holds credits its parent gave it, to take back
        give = {"child": ref, "unit": "sms", "credits": "5.00"}
        op.ok("POST", f"/v1/accounts/{ref.replace('-kid', '-root')}/transfers", give)
    campaign = {"account": ref, "unit": "sms", "text": "Hi", "numbers": [FR]}
    campaigns = [
        op.ok("POST", "/v1/campaigns", {**campaign, "deadline_at": TOMORROW})["id"]
        for _ in range(2)
    ]
    return Objects(ref, held[0], held[1], sub, prefix_of(victim), sender, asked, *campaigns)


@pytest.fixture
def world(ctx: pm.Context) -> Iterator[World]:
    app = create_app(ctx, tick_interval_s=None)
    with TestClient(app, raise_server_exceptions=False) as client:
        op = Caller(client, mint(ctx, "operator"))
        sms = {"code": "s1k", "name": "1k SMS", "unit": "sms", "credits": 1000, "price": "40"}
        op.ok("POST", "/v1/packages", {**sms, "validity_months": 24})
        op.ok("POST", "/v1/rate-cards/sms", {"rates": {"FR": "0.75"}, "default": "1.00"})
        plan = {"name": "Plan", "unit": "email", "credits": 1000, "period": "monthly"}
        op.ok("POST", "/v1/plans", {**plan, "code": "pro"})
        # A plan with seats is a reseller's: the roots' books (A = B + C + D) can be read.
        resell = {"code": "resell", "unit": "sms", "credits": "50.00", "seats": 5}
        op.ok("POST", "/v1/plans", {**plan, **resell})
        op.ok("POST", "/v1/plans", {**plan, "code": "basic", "credits": 10})
        for tree in ("a", "b"):
            _account(op, f"{tree}-root")
            _account(op, f"{tree}-kid", parent=f"{tree}-root")
        accounts = {
            "a": "a-root",
            "a-ro": "a-root",
            "a-kid": "a-kid",
            "b": "b-root",
            "b-ro": "b-root",
        }
        keys = {
            name: Caller(
                client, mint(ctx, name, role="account", account=ref, read_only=name.endswith("-ro"))
            )
            for name, ref in accounts.items()
        }
        objects: dict[str, Objects] = {}
        for ref in ("a-root", "a-kid", "b-root", "b-kid"):
            parent = objects.get(ref.replace("-kid", "-root")) if ref.endswith("-kid") else None
            objects[ref] = _objects(ctx, op, ref, parent.subscription if parent else None)
        trees = {"a-root": {"a-root", "a-kid"}, "a-kid": {"a-kid"}, "b-root": {"b-root", "b-kid"}}
        prefixes = {name: {prefix_of(k.secret or "")} for name, k in keys.items()}
        for name, ref in accounts.items():
            # An account key lists the keys of its account and of the accounts below it.
            prefixes[name] |= {
                prefix_of(k.secret or "") for n, k in keys.items() if accounts[n] in trees[ref]
            }
            prefixes[name] |= {objects[below].key_prefix for below in trees[ref]}
        yield World(
            app=app,
            client=client,
            op=op,
            op_read_only=Caller(client, mint(ctx, "operator-ro", read_only=True)),
            keys=keys,
            objects=objects,
            visible={name: trees[ref] for name, ref in accounts.items()},
            own_prefixes=prefixes,
        )


def routes_with_kinds(app: FastAPI) -> list[tuple[Route, Kind, Callable[[Objects], Call]]]:
    """The app's /v1 routes, each with its kind; fails on a route nobody has classified."""
    routes = api_routes(app)
    labels = {route.label for route in routes}
    unclassified = labels - KINDS.keys()
    assert not unclassified, (
        f"routes without a tenancy expectation in KINDS: {sorted(unclassified)}"
    )
    assert not KINDS.keys() - labels, f"KINDS names routes the app lacks: {KINDS.keys() - labels}"
    return [(route, *KINDS[route.label]) for route in routes]


def test_the_kinds_agree_with_the_apps_own_guards(world: World) -> None:
    for route, kind, _ in routes_with_kinds(world.app):
        assert "principal" in route.needs, f"{route.label} takes no API key"
        assert route.operator_only == (kind is Kind.OPERATOR), route.label
        if route.changes and route.label not in ("POST /v1/tick", QUOTE):
            assert "idempotency_key" in route.needs, route.label


def assert_shut_out(world: World, outsider: str, target: str) -> None:
    """Every route, aimed at ``target``'s objects by the ``outsider`` key, is refused or blind."""
    who = world.keys[outsider]
    objects = world.objects[target]
    for route, kind, build in routes_with_kinds(world.app):
        response = world.send(who, route, build(objects))
        where = f"{outsider} -> {route.label} on {target}: {response.status_code} {response.text}"
        if kind is Kind.TREE:
            assert response.status_code == 404, where
            problem(response, 404, "not_found")
        elif kind is Kind.OPERATOR:
            assert response.status_code == 403, where
            problem(response, 403, "operator_only")
        elif kind is Kind.LIST:
            assert response.status_code == 200, where
            items = response.json()["items"]
            if route.path == "/v1/accounts":
                assert {item["ref"] for item in items} == world.visible[outsider], where
            else:
                assert {item["prefix"] for item in items} <= world.own_prefixes[outsider], where
        else:
            assert response.status_code == 200, where


def assert_owner_gets_through(world: World, target: str) -> None:
    """The very same requests from the tree's own root key (or the operator) succeed."""
    objects = world.objects[target]
    ordered = sorted(routes_with_kinds(world.app), key=lambda r: r[0].label.endswith("/revoke"))
    for route, kind, build in ordered:
        who = world.op if kind is Kind.OPERATOR else world.keys["a"]
        if route.label.endswith("/revoke") and target != "a-root":
            who = world.keys[target]  # see test_a_root_key_manages_the_keys_of_its_children
        response = world.send(who, route, build(objects))
        if target.endswith("-kid") and route.label == "POST /v1/accounts/{ref}/subscriptions":
            problem(response, 403, "refused")  # a child has no plan of its own
            continue
        assert response.status_code in (200, 201), f"{route.label}: {response.text}"


@pytest.mark.parametrize("target", ["a-root", "a-kid"])
def test_another_trees_key_gets_404_on_every_route_and_changes_nothing(
    ctx: pm.Context, world: World, target: str
) -> None:
    before = books(ctx)
    assert_shut_out(world, "b", target)
    assert books_diff(before, books(ctx)) == {}
    assert_owner_gets_through(world, target)
    assert books_diff(before, books(ctx)) != {}
    assert world.op.ok("GET", "/v1/verify")["ok"] is True


def test_a_child_accounts_key_cannot_reach_its_parent(ctx: pm.Context, world: World) -> None:
    before = books(ctx)
    assert_shut_out(world, "a-kid", "a-root")
    assert books_diff(before, books(ctx)) == {}


def test_read_only_keys_change_nothing_on_any_route(ctx: pm.Context, world: World) -> None:
    before = books(ctx)
    objects = world.objects["a-root"]
    for who, name in ((world.keys["a-ro"], "account"), (world.op_read_only, "operator")):
        for route, kind, build in routes_with_kinds(world.app):
            response = world.send(who, route, build(objects))
            where = f"{name} read-only -> {route.label}: {response.status_code} {response.text}"
            if route.changes and route.label != QUOTE:
                assert response.status_code == 403, where
                expected = (
                    "operator_only"
                    if name == "account" and kind is Kind.OPERATOR
                    else "read_only_key"
                )
                problem(response, 403, expected)
            elif kind is Kind.OPERATOR and name == "account":
                problem(response, 403, "operator_only")
            else:
                assert response.status_code == 200, where
    assert books_diff(before, books(ctx)) == {}


def test_a_root_key_manages_the_keys_of_its_children(world: World) -> None:
    root = world.keys["a"]
    made = root.ok("POST", "/v1/keys", {"name": "kid", "role": "account", "account": "a-kid"})
    listed = {k["prefix"] for k in root.ok("GET", "/v1/keys")["items"]}
    assert made["prefix"] in listed
    assert root.post(f"/v1/keys/{made['prefix']}/revoke").status_code == 200
