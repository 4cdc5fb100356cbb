"""Every route of the HTTP API through the real app, on SQLite and on PostgreSQL.

For each route: its happy path, then each class of error it can answer with (401, 400, 403, 404,
409, 402, 422), always as problem+json with a stable ``code``, never a 500, and a refusal never
changes the books. Tests marked ``xfail(strict=True, reason="BUG: ...")`` pin bugs found in src/.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

import postmeter as pm
from postmeter.api.app import create_app
from postmeter.store import tables as t
from tests.conftest import START
from tests.support.api import (
    Caller,
    api_routes,
    books,
    books_diff,
    fresh_key,
    mint,
    prefix_of,
    problem,
)

TOMORROW = (START + timedelta(days=1)).isoformat()

# Path parameters for the generic walks (auth and headers are checked before anything is read).
ANY_PARAMS = {
    "ref": "acme",
    "code": "email",
    "unit": "email",
    "reservation_id": 1,
    "subscription_id": 1,
    "prefix": "0123456789ab",
    "campaign_id": 1,
    "name": "d1.acme.test",
    "request_id": 1,
}
# Routes only an operator key may use, whatever the body says.
OPERATOR_ROUTES = {
    "POST /v1/accounts/{ref}/status",
    "PUT /v1/accounts/{ref}/payg",
    "POST /v1/units",
    "POST /v1/units/{code}/policy",
    "POST /v1/plans",
    "POST /v1/packages",
    "POST /v1/accounts/{ref}/grants",
    "POST /v1/accounts/{ref}/corrections",
    "POST /v1/tick",
    "GET /v1/verify",
    "GET /v1/rate-cards/{unit}",
    "POST /v1/rate-cards/{unit}",
    "POST /v1/rate-cards/{unit}/import",
    "GET /v1/rate-cards/{unit}/export",
    "GET /v1/accounts/{ref}/email-rate",
    "PUT /v1/accounts/{ref}/email-rate",
    "PUT /v1/plans/{code}/email-rate",
    "POST /v1/accounts/{ref}/senders/{name}/outcomes",
    "POST /v1/ip-requests/{request_id}/decision",
}
# Reads sent as POST for their body (a quote's list of numbers): no key, read-only keys too.
READS = {"POST /v1/quotes"}
# Changing routes that take no Idempotency-Key: tick books each event under the event's own key.
KEYLESS_CHANGES = {"POST /v1/tick", *READS}


@pytest.fixture
def app(ctx: pm.Context) -> FastAPI:
    return create_app(ctx, tick_interval_s=None)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # A server error must show as the 500 a client would get, so tests can say "never a 500".
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def op(ctx: pm.Context, client: TestClient) -> Caller:
    return Caller(client, mint(ctx, "operator"))


def open_account(who: Caller, ref: str, parent: str | None = None) -> dict[str, Any]:
    body = {"ref": ref, "name": ref.title(), "email": f"ops@{ref}.test", "parent": parent}
    made: dict[str, Any] = who.ok("POST", "/v1/accounts", body)
    return made


def give(op: Caller, ref: str, unit: str, credits: str | int, **extra: Any) -> dict[str, Any]:
    body = {"unit": unit, "credits": credits, "reason": "test credits", **extra}
    made: dict[str, Any] = op.ok("POST", f"/v1/accounts/{ref}/grants", body)
    return made


@pytest.fixture
def acme(op: Caller) -> str:
    """An account with 1,000 e-mail credits and 100.00 SMS credits."""
    open_account(op, "acme")
    give(op, "acme", "email", 1000)
    give(op, "acme", "sms", "100.00")
    return "acme"


def key_for(ctx: pm.Context, client: TestClient, account: str, read_only: bool = False) -> Caller:
    secret = mint(ctx, f"{account}-key", role="account", account=account, read_only=read_only)
    return Caller(client, secret)


def balance(op: Caller, ref: str, unit: str) -> str:
    summary = op.ok("GET", f"/v1/accounts/{ref}/balances/{unit}")
    value: str = summary["balance"]
    return value


def charge(who: Caller, credits: Any, *, unit: str = "sms", **extra: Any) -> httpx2.Response:
    return who.post("/v1/charges", {"account": "acme", "unit": unit, "credits": credits, **extra})


# -- every route: keys, headers, roles ------------------------------------------------------------


@pytest.mark.usefixtures("acme")
def test_every_v1_route_refuses_a_missing_unknown_or_malformed_key(
    ctx: pm.Context, app: FastAPI, client: TestClient, op: Caller
) -> None:
    before = books(ctx)
    unknown = f"pm_{prefix_of(op.secret or '')}_not-the-secret"
    headers: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {base64.b64encode(b'user:pass').decode()}"},
        {"Authorization": "Bearer pm_0123456789ab_unknown"},
        {"Authorization": f"Bearer {unknown}"},
        {"Authorization": "Bearer " + "pm_" + "x" * 300},
    ]
    routes = api_routes(app)
    assert len(routes) >= 30
    for route in routes:
        for auth in headers:
            sent = {**auth, "Idempotency-Key": fresh_key()}
            response = client.request(route.method, route.url(ANY_PARAMS), headers=sent, json={})
            assert response.status_code == 401, (route.label, auth, response.text)
            problem(response, 401, "unauthenticated")
    assert books_diff(before, books(ctx)) == {}


def test_a_revoked_key_is_refused_from_the_very_next_request(
    ctx: pm.Context, client: TestClient, op: Caller, acme: str
) -> None:
    mine = key_for(ctx, client, acme)
    assert mine.get(f"/v1/accounts/{acme}").status_code == 200
    assert charge(mine, "1.00").status_code == 201
    prefix = prefix_of(mine.secret or "")
    revoked = op.ok("POST", f"/v1/keys/{prefix}/revoke")
    assert revoked["revoked_at"] is not None
    problem(mine.get(f"/v1/accounts/{acme}"), 401, "unauthenticated")
    problem(charge(mine, "1.00"), 401, "unauthenticated")
    # Revoking twice is a conflict; an unknown prefix is not found.
    problem(op.post(f"/v1/keys/{prefix}/revoke"), 409, "invalid_state")
    problem(op.post("/v1/keys/0123456789ab/revoke"), 404, "not_found")
    # A key may revoke itself; it stops working at once.
    own = key_for(ctx, client, acme)
    assert own.post(f"/v1/keys/{prefix_of(own.secret or '')}/revoke").status_code == 200
    problem(own.get("/v1/keys"), 401, "unauthenticated")


@pytest.mark.usefixtures("acme")
def test_every_changing_route_needs_an_idempotency_key(
    ctx: pm.Context, app: FastAPI, client: TestClient, op: Caller
) -> None:
    routes = [route for route in api_routes(app) if route.changes]
    keyless = {route.label for route in routes if "idempotency_key" not in route.needs}
    assert keyless == KEYLESS_CHANGES
    before = books(ctx)
    for route in routes:
        if route.label in KEYLESS_CHANGES:
            continue
        url = route.url(ANY_PARAMS)
        for sent in (
            op.headers(idempotent=False),
            {**op.headers(idempotent=False), "Idempotency-Key": ""},
        ):
            response = client.request(route.method, url, headers=sent, json={})
            assert response.status_code == 400, (route.label, response.text)
            body = problem(response, 400, "idempotency_key_missing")
            assert "Idempotency-Key" in body["detail"]
    assert books_diff(before, books(ctx)) == {}


def test_an_idempotency_key_is_printable_ascii_of_at_most_200_characters(
    ctx: pm.Context, op: Caller, acme: str
) -> None:
    before = books(ctx)
    body = {"account": acme, "unit": "sms", "credits": "1.00"}
    for key in ("k" * 201, "tab\there", "bell\x07"):
        problem(op.post("/v1/charges", body, key=key), 422, "invalid_input")
    assert books_diff(before, books(ctx)) == {}
    assert op.post("/v1/charges", body, key="k" * 200).status_code == 201


def test_operator_routes_refuse_account_keys(
    ctx: pm.Context, app: FastAPI, client: TestClient, acme: str
) -> None:
    routes = api_routes(app)
    assert {route.label for route in routes if route.operator_only} == OPERATOR_ROUTES
    mine = key_for(ctx, client, acme)
    before = books(ctx)
    for route in routes:
        if route.operator_only:
            response = mine.send(route.method, route.url(ANY_PARAMS), {})
            problem(response, 403, "operator_only")
    # Some routes are open to account keys except for what only an operator may do.
    top = {"ref": "newco", "name": "Newco", "email": "ops@newco.test"}
    problem(mine.post("/v1/accounts", top), 403, "operator_only")
    problem(mine.post("/v1/keys", {"name": "root", "role": "operator"}), 403, "operator_only")
    assert books_diff(before, books(ctx)) == {}


def test_read_only_keys_read_but_change_nothing(
    ctx: pm.Context, app: FastAPI, client: TestClient, acme: str
) -> None:
    readers = {
        "operator": Caller(client, mint(ctx, "ops-ro", read_only=True)),
        "account": key_for(ctx, client, acme, read_only=True),
    }
    before = books(ctx)
    for kind, reader in readers.items():
        assert reader.get(f"/v1/accounts/{acme}").status_code == 200
        assert reader.get(f"/v1/accounts/{acme}/balances/sms").json()["balance"] == "100.00"
        for route in api_routes(app):
            if not route.changes or route.label in READS:
                continue
            response = reader.send(route.method, route.url(ANY_PARAMS), {})
            codes = {"read_only_key"} | ({"operator_only"} if kind == "account" else set())
            assert response.status_code == 403, (kind, route.label, response.text)
            assert response.json()["code"] in codes, (kind, route.label, response.text)
    assert books_diff(before, books(ctx)) == {}


def test_unknown_paths_and_methods_answer_problems(op: Caller) -> None:
    problem(op.get("/v1/nothing-here"), 404, "not_found")
    problem(op.send("DELETE", "/v1/charges"), 405, "method_not_allowed")


# -- accounts ------------------------------------------------------------------------------------


def test_open_an_account_read_it_and_replay_it(
    ctx: pm.Context, client: TestClient, op: Caller
) -> None:
    body = {"ref": "acme", "name": "Acme", "email": "ops@acme.test", "timezone": "Europe/Paris"}
    first = op.post("/v1/accounts", body, key="open-acme")
    assert first.status_code == 201, first.text
    assert first.json() == {
        "ref": "acme",
        "name": "Acme",
        "email": "ops@acme.test",
        "timezone": "Europe/Paris",
        "status": "active",
        "parent": None,
        "created_at": START.isoformat(),
    }
    again = op.post("/v1/accounts", body, key="open-acme")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert op.ok("GET", "/v1/accounts/acme") == first.json()
    problem(
        op.post("/v1/accounts", {**body, "name": "Other"}, key="open-acme"),
        409,
        "idempotency_key_reused",
    )
    problem(op.post("/v1/accounts", body), 409, "already_exists")
    # An account key opens child accounts below itself.
    mine = key_for(ctx, client, "acme")
    child = open_account(mine, "acme-kid", parent="acme")
    assert child["parent"] == "acme"
    problem(op.post("/v1/accounts", {**body, "ref": "orphan", "parent": "nope"}), 404, "not_found")
    problem(op.get("/v1/accounts/nope"), 404, "not_found")


@pytest.mark.parametrize(
    "change",
    [
        {"ref": "has space"},
        {"ref": ""},
        {"ref": "x" * 65},
        {"name": ""},
        {"name": "tab\there"},
        {"email": "not-an-email"},
        {"timezone": "Mars/Olympus"},
        {"surprise": True},
        {"ref": 12},
    ],
)
def test_opening_an_account_refuses_invalid_input(
    ctx: pm.Context, op: Caller, change: dict[str, Any]
) -> None:
    body = {"ref": "acme", "name": "Acme", "email": "ops@acme.test", **change}
    before = books(ctx)
    problem(op.post("/v1/accounts", body), 422, "invalid_input")
    assert books_diff(before, books(ctx)) == {}


def test_suspending_an_account_stops_its_sends_and_its_children(op: Caller, acme: str) -> None:
    open_account(op, "acme-kid", parent=acme)
    give(op, "acme-kid", "email", 10)
    suspended = op.ok(
        "POST", f"/v1/accounts/{acme}/status", {"status": "suspended", "reason": "unpaid"}
    )
    assert suspended["status"] == "suspended"
    problem(charge(op, "1.00"), 403, "account_inactive")
    kid = op.post("/v1/charges", {"account": "acme-kid", "unit": "email", "credits": 1})
    problem(kid, 403, "account_inactive")
    op.ok("POST", f"/v1/accounts/{acme}/status", {"status": "active", "reason": "paid"})
    assert charge(op, "1.00").status_code == 201
    problem(
        op.post(f"/v1/accounts/{acme}/status", {"status": "asleep", "reason": "x"}),
        422,
        "invalid_input",
    )
    problem(op.post(f"/v1/accounts/{acme}/status", {"status": "active"}), 422, "invalid_input")
    problem(
        op.post("/v1/accounts/nope/status", {"status": "active", "reason": "x"}), 404, "not_found"
    )


def test_pay_as_you_go_bills_what_the_lots_do_not_cover(
    ctx: pm.Context, op: Caller, acme: str
) -> None:
    on = op.ok("PUT", f"/v1/accounts/{acme}/payg", {"unit": "sms", "price": "0.05", "per": 1})
    payg = {"price": "0.05", "per": "1.00", "currency": "EUR"}
    assert on == {"account": acme, "unit": "sms", "payg": payg}
    beyond = charge(op, "100.50")
    assert beyond.status_code == 201, beyond.text
    assert beyond.json()["overage"] == "0.50"
    assert op.ok("PUT", f"/v1/accounts/{acme}/payg", {"unit": "sms", "price": None})["payg"] is None
    problem(charge(op, "1.00"), 402, "insufficient_credits")
    before = books(ctx)
    for bad in ({"price": "0.001"}, {"price": 1.5}, {"per": 0}, {"per": -1}, {"currency": "eur"}):
        body = {"unit": "sms", "price": "0.05", **bad}
        response = op.send("PUT", f"/v1/accounts/{acme}/payg", body)
        assert response.status_code == 422, (bad, response.text)
    problem(
        op.send("PUT", "/v1/accounts/nope/payg", {"unit": "sms", "price": "1"}), 404, "not_found"
    )
    assert books_diff(before, books(ctx)) == {}


def walk(who: Caller, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = who.get(path, query)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ran out")


def test_accounts_are_listed_page_by_page_with_nothing_lost_or_repeated(
    ctx: pm.Context, client: TestClient, op: Caller
) -> None:
    refs = []
    for i in range(12):
        refs.append(open_account(op, f"top-{i:02}")["ref"])
        if i % 3 == 0:
            refs.append(open_account(op, f"kid-{i:02}", parent=f"top-{i:02}")["ref"])
    for limit in (1, 4, 5, 500):
        assert [a["ref"] for a in walk(op, "/v1/accounts", limit)] == refs
    # An account key pages through its own tree only.
    mine = key_for(ctx, client, "top-03")
    assert [a["ref"] for a in walk(mine, "/v1/accounts", 1)] == ["top-03", "kid-03"]
    journal_cursor = base64.urlsafe_b64encode(b"s:1").decode()
    negative = base64.urlsafe_b64encode(b"a:-1").decode()
    for bad in ("zzz", "!!", journal_cursor, negative, "a" * 41):
        problem(op.get("/v1/accounts", {"cursor": bad}), 422, "invalid_input")
    for bad_limit in ("0", "501", "-1", "ten"):
        problem(op.get("/v1/accounts", {"limit": bad_limit}), 422, "invalid_input")


# -- catalogue -----------------------------------------------------------------------------------


def test_units_and_their_policies(op: Caller) -> None:
    units = op.ok("GET", "/v1/units")["items"]
    assert {(u["code"], u["scale"]) for u in units} == {("email", 0), ("sms", 2)}
    made = op.post("/v1/units", {"code": "push", "name": "Push credits", "scale": 3})
    assert made.status_code == 201, made.text
    assert made.json()["signup_credits"] == "0.000"
    problem(
        op.post("/v1/units", {"code": "push", "name": "Again", "scale": 0}), 409, "already_exists"
    )
    for bad in ({"scale": 10}, {"scale": -1}, {"scale": 1.0}, {"code": "Bad Code"}, {"code": ""}):
        body = {"code": "other", "name": "Other", "scale": 0, **bad}
        problem(op.post("/v1/units", body), 422, "invalid_input")
    policy = {"signup_credits": "5.5", "signup_days": 30, "extend_on_purchase": True}
    set_ = op.post("/v1/units/push/policy", policy)
    assert set_.status_code == 200, set_.text
    assert set_.json()["signup_credits"] == "5.500"
    open_account(op, "newco")
    assert balance(op, "newco", "push") == "5.500"
    for bad_policy in ({"signup_credits": "0.0001"}, {"signup_credits": 1.5}, {"signup_days": -1}):
        problem(op.post("/v1/units/push/policy", bad_policy), 422, bad_code(bad_policy))


def bad_code(body: dict[str, Any]) -> str:
    """Amounts the schema takes but the unit refuses are invalid_amount; others invalid_input."""
    return "invalid_amount" if isinstance(body.get("signup_credits"), str) else "invalid_input"


def test_plans_in_the_catalogue(op: Caller) -> None:
    plan = {"code": "pro", "name": "Pro", "unit": "email", "credits": "20000", "period": "monthly"}
    made = op.post("/v1/plans", {**plan, "price": "49.90", "seats": 3})
    assert made.status_code == 201, made.text
    assert made.json()["credits"] == "20000"
    assert made.json()["price_minor"] == 4990
    rolling = {**plan, "code": "roll", "credits": 500, "period": "days", "period_days": 30}
    assert op.post("/v1/plans", rolling).status_code == 201
    assert [p["code"] for p in op.ok("GET", "/v1/plans")["items"]] == ["roll", "pro"]
    problem(op.post("/v1/plans", plan), 409, "already_exists")
    for bad in (
        {"period": "days"},
        {"period": "weekly"},
        {"period_days": 30},
        {"credits": 0},
        {"credits": "1.5"},
        {"price": "1.234"},
        {"currency": "euro"},
        {"seats": -1},
    ):
        response = op.post("/v1/plans", {**plan, "code": "other", **bad})
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] in ("invalid_input", "invalid_amount")


def test_packages_in_the_catalogue(op: Caller) -> None:
    small = {"code": "s1k", "name": "1,000 SMS", "unit": "sms", "credits": "1000", "price": "40"}
    made = op.post("/v1/packages", {**small, "validity_months": 24})
    assert made.status_code == 201, made.text
    assert made.json()["credits"] == "1000.00"
    big = {**small, "code": "s10k", "credits": 10000, "price": "350", "validity_months": 24}
    assert op.post("/v1/packages", big).status_code == 201
    mail = {**small, "code": "m1", "unit": "email", "validity_days": 180}
    assert op.post("/v1/packages", mail).status_code == 201
    assert [p["code"] for p in op.ok("GET", "/v1/packages?unit=sms")["items"]] == ["s1k", "s10k"]
    assert len(op.ok("GET", "/v1/packages")["items"]) == 3
    problem(op.post("/v1/packages", {**small, "validity_days": 1}), 409, "already_exists")
    dearer = {**small, "code": "s20k", "credits": 20000, "price": "1000", "validity_days": 1}
    problem(op.post("/v1/packages", dearer), 422, "invalid_input")
    for bad in ({}, {"validity_days": -1}, {"price": "abc"}, {"price": 40}, {"credits": -5}):
        body = {**small, "code": "other", "validity_days": 10, **bad}
        if bad == {}:
            body.pop("validity_days")
        response = op.post("/v1/packages", body)
        assert response.status_code == 422, (bad, response.text)


# -- credits in ----------------------------------------------------------------------------------


def test_grants_and_corrections(ctx: pm.Context, op: Caller) -> None:
    open_account(op, "acme")
    granted = give(op, "acme", "sms", "10.50", source="adjustment", expires_at=TOMORROW)
    assert granted["credits"] == "10.50"
    assert granted["balance"] == "10.50"
    corrected = op.post(
        "/v1/accounts/acme/corrections", {"unit": "sms", "credits": "0.50", "reason": "typo"}
    )
    assert corrected.status_code == 201, corrected.text
    assert (corrected.json()["credits"], corrected.json()["balance"]) == ("-0.50", "10.00")
    too_much = {"unit": "sms", "credits": "10.01", "reason": "x"}
    problem(op.post("/v1/accounts/acme/corrections", too_much), 402, "insufficient_credits")
    problem(
        op.post("/v1/accounts/nope/grants", {"unit": "sms", "credits": 1, "reason": "x"}),
        404,
        "not_found",
    )
    before = books(ctx)
    for bad in (
        {"credits": "0"},
        {"credits": 0},
        {"credits": "-1"},
        {"credits": 1.5},
        {"credits": "1.001"},
        {"source": "plan"},
        {"reason": ""},
        {"expires_at": (START - timedelta(days=1)).isoformat()},
        {"expires_at": "2026-05-01T00:00:00"},
        {"expires_at": "next tuesday"},
        {"expires_at": "2026-13-01T00:00:00Z"},
    ):
        body = {"unit": "sms", "credits": "1", "reason": "x", **bad}
        response = op.post("/v1/accounts/acme/grants", body)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] in ("invalid_input", "invalid_amount")
    assert books_diff(before, books(ctx)) == {}


@pytest.fixture
def shop(op: Caller) -> None:
    """A package and a plan in the catalogue."""
    package = {"code": "s1k", "name": "1k SMS", "unit": "sms", "credits": 1000, "price": "40"}
    op.ok("POST", "/v1/packages", {**package, "validity_months": 24})
    plan = {"code": "pro", "name": "Pro", "unit": "email", "credits": 20000, "period": "monthly"}
    op.ok("POST", "/v1/plans", plan)


@pytest.mark.usefixtures("shop")
def test_buying_a_package(ctx: pm.Context, client: TestClient, op: Caller, acme: str) -> None:
    bought = op.post(f"/v1/accounts/{acme}/purchases", {"package": "s1k"})
    assert bought.status_code == 201, bought.text
    assert bought.json()["credits"] == "1000.00"
    assert bought.json()["expires_at"] == "2028-04-01T09:00:00+00:00"
    assert balance(op, acme, "sms") == "1100.00"
    # An account key buys for itself and for its children.
    open_account(op, "acme-kid", parent=acme)
    mine = key_for(ctx, client, acme)
    assert mine.post("/v1/accounts/acme-kid/purchases", {"package": "s1k"}).status_code == 201
    problem(op.post(f"/v1/accounts/{acme}/purchases", {"package": "nope"}), 404, "not_found")
    problem(op.post("/v1/accounts/nope/purchases", {"package": "s1k"}), 404, "not_found")
    problem(
        op.post(f"/v1/accounts/{acme}/purchases", {"package": "s1k", "qty": 2}),
        422,
        "invalid_input",
    )
    op.ok("POST", f"/v1/accounts/{acme}/status", {"status": "blocked", "reason": "fraud"})
    problem(op.post(f"/v1/accounts/{acme}/purchases", {"package": "s1k"}), 403, "account_inactive")


@pytest.mark.usefixtures("shop")
def test_subscribing_to_a_plan_and_cancelling(op: Caller, acme: str) -> None:
    sub = op.post(f"/v1/accounts/{acme}/subscriptions", {"plan": "pro", "anchor_day": 12})
    assert sub.status_code == 201, sub.text
    assert sub.json()["next_renewal_at"] == "2026-04-12T00:00:00+00:00"
    assert balance(op, acme, "email") == "21000"
    listed = op.ok("GET", f"/v1/accounts/{acme}/subscriptions")["items"]
    assert [s["id"] for s in listed] == [sub.json()["id"]]
    problem(op.post(f"/v1/accounts/{acme}/subscriptions", {"plan": "pro"}), 409, "invalid_state")
    problem(op.post(f"/v1/accounts/{acme}/subscriptions", {"plan": "nope"}), 404, "not_found")
    for bad in ({"anchor_day": 0}, {"anchor_day": 32}, {"anchor_day": "12"}, {"plan": ""}):
        response = op.post(f"/v1/accounts/{acme}/subscriptions", {"plan": "pro", **bad})
        problem(response, 422, "invalid_input")
    problem(op.get("/v1/accounts/nope/subscriptions"), 404, "not_found")
    cancel = f"/v1/subscriptions/{sub.json()['id']}/cancel"
    assert op.ok("POST", cancel)["status"] == "cancelled"
    problem(op.post(cancel), 409, "invalid_state")
    problem(op.post("/v1/subscriptions/999/cancel"), 404, "not_found")
    problem(op.post("/v1/subscriptions/abc/cancel"), 422, "invalid_input")


# -- charges -------------------------------------------------------------------------------------


def test_a_charge_is_booked_once_and_replayed(ctx: pm.Context, op: Caller, acme: str) -> None:
    body = {"account": acme, "unit": "sms", "credits": "2.25", "reference": "msg-1"}
    first = op.post("/v1/charges", body, key="c1")
    assert first.status_code == 201, first.text
    assert first.json()["balance"] == "97.75"
    assert first.json()["credits"] == "2.25"
    after_first = books(ctx)
    again = op.post("/v1/charges", body, key="c1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    problem(
        op.post("/v1/charges", {**body, "credits": "3"}, key="c1"), 409, "idempotency_key_reused"
    )
    assert books_diff(after_first, books(ctx)) == {}
    assert charge(op, 3).json()["balance"] == "94.75"
    assert charge(op, 5, unit="email").json()["balance"] == "995"


def test_insufficient_credits_are_a_402_with_the_shortfall_as_a_decimal(
    ctx: pm.Context, op: Caller, acme: str
) -> None:
    before = books(ctx)
    short = problem(charge(op, "112.25"), 402, "insufficient_credits")
    assert (short["shortfall"], short["available"]) == ("12.25", "100.00")
    assert (short["account"], short["unit"]) == (acme, "sms")
    assert "12.25" in short["detail"]  # said in credits, not in steps (1225)
    assert problem(charge(op, 1001, unit="email"), 402, "insufficient_credits")["shortfall"] == "1"
    assert books_diff(before, books(ctx)) == {}


@pytest.mark.usefixtures("acme")
def test_a_correction_beyond_available_reports_the_shortfall_as_a_decimal(op: Caller) -> None:
    body = {"unit": "sms", "credits": "108.00", "reason": "x"}
    short = problem(op.post("/v1/accounts/acme/corrections", body), 402, "insufficient_credits")
    assert (short["shortfall"], short["available"]) == ("8.00", "100.00")
    assert "8.00" in short["detail"]


@pytest.mark.parametrize(
    ("credits", "unit"),
    [
        (1.5, "sms"),
        (2.0, "email"),
        (-1, "email"),
        ("-1", "email"),
        ("-0.50", "sms"),
        (0, "email"),
        ("0", "sms"),
        ("0.00", "sms"),
        (2**63, "email"),
        (str(2**63), "email"),
        (2**63 // 100 + 1, "sms"),  # fits as credits, not as hundredths
        (10**30, "email"),
        ("1.001", "sms"),
        ("1.5", "email"),
        (True, "email"),
        (None, "email"),
        ("", "sms"),
        ("abc", "sms"),
        ("1e3", "email"),
        ("0x10", "email"),
        ("NaN", "sms"),
        ("Infinity", "sms"),
        ("1,5", "sms"),
        ([1], "email"),
        ({"value": 1}, "email"),
    ],
)
@pytest.mark.usefixtures("acme")
def test_a_charge_refuses_invalid_amounts(
    ctx: pm.Context, op: Caller, credits: Any, unit: str
) -> None:
    before = books(ctx)
    response = charge(op, credits, unit=unit)
    assert response.status_code == 422, response.text
    assert response.json()["code"] in ("invalid_input", "invalid_amount")
    problem(response, 422, response.json()["code"])
    assert books_diff(before, books(ctx)) == {}


def test_a_charge_refuses_malformed_bodies_and_unknown_accounts(
    ctx: pm.Context, client: TestClient, op: Caller, acme: str
) -> None:
    before = books(ctx)
    valid = {"account": acme, "unit": "sms", "credits": "1.00"}
    for body in (
        {**valid, "surprise": 1},
        {"unit": "sms", "credits": "1.00"},
        {**valid, "account": ""},
        {**valid, "reference": "r" * 201},
        [valid],
        "charge",
    ):
        problem(op.post("/v1/charges", body), 422, "invalid_input")
    raw = client.post(
        "/v1/charges",
        content=b"{not json",
        headers={**op.headers(), "Content-Type": "application/json"},
    )
    assert 400 <= raw.status_code < 500, raw.text
    huge = b'{"account": "acme", "unit": "email", "credits": ' + b"9" * 5000 + b"}"
    raw = client.post(
        "/v1/charges", content=huge, headers={**op.headers(), "Content-Type": "application/json"}
    )
    assert 400 <= raw.status_code < 500, raw.text
    problem(op.post("/v1/charges", {**valid, "account": "nope"}), 404, "not_found")
    assert books_diff(before, books(ctx)) == {}


def test_a_batch_books_what_it_can_and_says_why_for_the_rest(
    ctx: pm.Context, op: Caller, acme: str
) -> None:
    items: list[dict[str, Any]] = [
        {"account": acme, "unit": "sms", "credits": "1.25"},
        {"account": acme, "unit": "email", "credits": 10, "key": "own-key"},
        {"account": acme, "unit": "sms", "credits": "500.00"},
        {"account": acme, "unit": "sms", "credits": "0.001"},
    ]
    first = op.post("/v1/charges/batch", {"items": items}, key="b1")
    assert first.status_code == 200, first.text
    result = first.json()
    assert (result["booked"], result["failed"]) == (2, 2)
    assert [item["ok"] for item in result["items"]] == [True, True, False, False]
    assert result["items"][2]["status"] == 402
    assert result["items"][2]["problem"]["shortfall"] == "401.25"
    assert (result["items"][3]["status"], result["items"][3]["problem"]["code"]) == (
        422,
        "invalid_amount",
    )
    again = op.post("/v1/charges/batch", {"items": items}, key="b1")
    assert (again.status_code, again.json()) == (200, result)
    assert balance(op, acme, "sms") == "98.75"
    assert balance(op, acme, "email") == "990"
    problem(
        op.post("/v1/charges/batch", {"items": items[:1]}, key="b1"), 409, "idempotency_key_reused"
    )
    before = books(ctx)
    problem(op.post("/v1/charges/batch", {"items": []}), 422, "invalid_input")
    problem(
        op.post("/v1/charges/batch", {"items": [{**items[0], "credits": 1.5}]}),
        422,
        "invalid_input",
    )
    assert books_diff(before, books(ctx)) == {}
    # An unknown account fails its own item (an operator may charge any account).
    unknown = op.ok("POST", "/v1/charges/batch", {"items": [{**items[0], "account": "nope"}]})
    assert (unknown["booked"], unknown["items"][0]["status"]) == (0, 404)
    assert unknown["items"][0]["problem"]["code"] == "not_found"


# -- reservations --------------------------------------------------------------------------------


def reserve(
    who: Caller, credits: Any, deadline_at: Any = TOMORROW, **extra: Any
) -> httpx2.Response:
    body = {"account": "acme", "unit": "sms", "credits": credits, "deadline_at": deadline_at}
    return who.post("/v1/reservations", {**body, **extra})


def test_a_reservation_is_held_then_captured_once(ctx: pm.Context, op: Caller, acme: str) -> None:
    held = reserve(op, "30.00")
    assert held.status_code == 201, held.text
    assert (held.json()["held"], held.json()["available"], held.json()["status"]) == (
        "30.00",
        "70.00",
        "held",
    )
    path = f"/v1/reservations/{held.json()['id']}"
    assert op.ok("GET", path) == held.json()
    captured = op.post(f"{path}/capture", {"credits": "12.50"}, key="cap-1")
    assert captured.status_code == 200, captured.text
    assert (captured.json()["status"], captured.json()["captured"]) == ("captured", "12.50")
    assert balance(op, acme, "sms") == "87.50"
    replay = op.post(f"{path}/capture", {"credits": "12.50"}, key="cap-1")
    assert (replay.status_code, replay.json()) == (200, captured.json())
    after = books(ctx)
    problem(op.post(f"{path}/capture", {"credits": "12.50"}), 409, "invalid_state")
    problem(op.post(f"{path}/release"), 409, "invalid_state")
    problem(
        op.post(f"{path}/capture", {"credits": "1"}, key="cap-1"), 409, "idempotency_key_reused"
    )
    assert books_diff(after, books(ctx)) == {}


@pytest.mark.usefixtures("acme")
def test_a_reservation_released_gives_everything_back(op: Caller) -> None:
    held = reserve(op, 40).json()
    released = op.ok("POST", f"/v1/reservations/{held['id']}/release")
    assert (released["status"], released["available"]) == ("released", "100.00")
    problem(op.post(f"/v1/reservations/{held['id']}/release"), 409, "invalid_state")
    problem(op.post(f"/v1/reservations/{held['id']}/capture", {"credits": 1}), 409, "invalid_state")
    nothing = reserve(op, "5.00").json()
    zero = op.ok("POST", f"/v1/reservations/{nothing['id']}/capture", {"credits": "0"})
    assert (zero["captured"], zero["available"]) == ("0.00", "100.00")
    assert op.ok("GET", "/v1/verify")["ok"] is True


@pytest.mark.usefixtures("acme")
def test_a_reservation_refuses_what_it_cannot_hold(ctx: pm.Context, op: Caller) -> None:
    held = reserve(op, 1).json()
    before = books(ctx)
    short = problem(reserve(op, "99.01"), 402, "insufficient_credits")
    assert (short["shortfall"], short["available"]) == ("0.01", "99.00")
    problem(reserve(op, 1, account="nope"), 404, "not_found")
    for deadline in ("2026-04-02T00:00:00", "tomorrow", "2026-02-30T00:00:00Z", 12):
        problem(reserve(op, 1, deadline), 422, "invalid_input")
    for deadline in ((START - timedelta(hours=1)).isoformat(), "2028-01-01T00:00:00Z"):
        problem(reserve(op, 1, deadline), 422, "invalid_input")
    for amount in (1.5, "0", -3, "0.001", 2**63):
        response = reserve(op, amount)
        assert response.status_code == 422, (amount, response.text)
    problem(reserve(op, 1, surprise="x"), 422, "invalid_input")
    for missing in ("/v1/reservations/999", "/v1/reservations/0", "/v1/reservations/-1"):
        problem(op.get(missing), 404, "not_found")
        problem(op.post(f"{missing}/capture", {"credits": 1}), 404, "not_found")
        problem(op.post(f"{missing}/release"), 404, "not_found")
    problem(op.get("/v1/reservations/abc"), 422, "invalid_input")
    for amount in (1.5, -1, "0.001", "x"):
        response = op.post(f"/v1/reservations/{held['id']}/capture", {"credits": amount})
        assert response.status_code == 422, (amount, response.text)
    assert books_diff(before, books(ctx)) == {}


@pytest.mark.usefixtures("acme")
def test_a_capture_beyond_the_hold_reports_the_shortfall_as_a_decimal(op: Caller) -> None:
    held = reserve(op, "10.00").json()
    response = op.post(f"/v1/reservations/{held['id']}/capture", {"credits": "110.00"})
    body = problem(response, 402, "insufficient_credits")
    assert (body["shortfall"], body["available"], body["unit"]) == ("10.00", "90.00", "sms")
    assert "10.00" in body["detail"]


# -- reading the books ---------------------------------------------------------------------------


def test_a_balance_summary_speaks_in_decimals(op: Caller, acme: str) -> None:
    reserve(op, "10.00")
    summary = op.ok("GET", f"/v1/accounts/{acme}/balances/sms")
    assert {k: summary[k] for k in ("balance", "reserved", "assigned", "available", "overage")} == {
        "balance": "100.00",
        "reserved": "10.00",
        "assigned": "0.00",
        "available": "90.00",
        "overage": "0.00",
    }
    assert [(lot["remaining"], lot["held"]) for lot in summary["lots"]] == [("100.00", "10.00")]
    problem(op.get("/v1/accounts/nope/balances/sms"), 404, "not_found")


def test_the_journal_pages_and_filters(
    ctx: pm.Context, clock: pm.FixedClock, client: TestClient, op: Caller
) -> None:
    open_account(op, "acme")
    open_account(op, "other")
    give(op, "acme", "sms", "50.00")
    give(op, "other", "email", 50)
    noon = clock.advance(timedelta(hours=3))
    for i in range(9):
        charge(op, f"1.{i}0")
        op.post("/v1/charges", {"account": "other", "unit": "email", "credits": 1})
    clock.advance(timedelta(hours=3))
    reserve(op, "1.00")
    everything = walk(op, "/v1/journal", 1000)
    assert len(everything) == 2 + 18 + 1
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(set(seqs))
    for limit in (1, 4, 7, 21, 22):
        assert walk(op, "/v1/journal", limit) == everything
    by_account = walk(op, "/v1/journal", 4, account="acme")
    assert by_account == [e for e in everything if e["account"] == "acme"]
    assert walk(op, "/v1/journal", 4, unit="email") == [
        e for e in everything if e["unit"] == "email"
    ]
    charges = walk(op, "/v1/journal", 4, kind="charge", account="acme")
    assert [e["delta"] for e in charges] == [f"-1.{i}0" for i in range(9)]
    assert [e["kind"] for e in walk(op, "/v1/journal", 3, kind="hold")] == ["hold"]
    since = walk(op, "/v1/journal", 5, since=noon.isoformat())
    assert since == [e for e in everything if datetime.fromisoformat(e["at"]) >= noon]
    window = walk(
        op, "/v1/journal", 5, since=noon.isoformat(), until=(noon + timedelta(hours=1)).isoformat()
    )
    assert len(window) == 18
    assert walk(op, "/v1/journal", 5, until=START.isoformat()) == []
    # An account key reads its own tree's journal, naming the account.
    mine = key_for(ctx, client, "acme")
    assert walk(mine, "/v1/journal", 5, account="acme") == by_account
    problem(mine.get("/v1/journal"), 422, "invalid_input")
    problem(op.get("/v1/journal", {"account": "nope"}), 404, "not_found")
    accounts_cursor = base64.urlsafe_b64encode(b"a:1").decode()
    for bad in (
        {"since": "yesterday"},
        {"since": "2026-04-01T09:00:00"},
        {"until": "2026-04-31T00:00:00Z"},
        {"cursor": "%%%"},
        {"cursor": accounts_cursor},
        {"limit": 0},
        {"limit": 1001},
    ):
        problem(op.get("/v1/journal", bad), 422, "invalid_input")


# -- keys ----------------------------------------------------------------------------------------


def test_keys_are_minted_listed_and_scoped(
    ctx: pm.Context, client: TestClient, op: Caller, acme: str
) -> None:
    made = op.post("/v1/keys", {"name": "billing", "role": "operator"})
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert secret.startswith(f"pm_{made.json()['prefix']}_")
    assert Caller(client, secret).get("/v1/verify").status_code == 200
    open_account(op, "acme-kid", parent=acme)
    open_account(op, "rival")
    mine = key_for(ctx, client, acme)
    kid_key = mine.post(
        "/v1/keys", {"name": "kid", "role": "account", "account": "acme-kid", "read_only": True}
    )
    assert kid_key.status_code == 201, kid_key.text
    kid = Caller(client, kid_key.json()["secret"])
    assert kid.get("/v1/accounts/acme-kid").status_code == 200
    problem(
        kid.post("/v1/charges", {"account": "acme-kid", "unit": "sms", "credits": 1}),
        403,
        "read_only_key",
    )
    problem(kid.get(f"/v1/accounts/{acme}"), 404, "not_found")
    problem(
        mine.post("/v1/keys", {"name": "x", "role": "account", "account": "rival"}),
        404,
        "not_found",
    )
    problem(mine.post("/v1/keys", {"name": "x", "role": "account"}), 403, "operator_only")
    listed = {k["prefix"] for k in op.ok("GET", "/v1/keys")["items"]}
    assert {made.json()["prefix"], kid_key.json()["prefix"], prefix_of(mine.secret or "")} <= listed
    # An account key lists the keys of its own account and of the accounts below it, no others.
    assert [k["account"] for k in mine.ok("GET", "/v1/keys")["items"]] == [acme, "acme-kid"]
    assert all("secret" not in k for k in op.ok("GET", "/v1/keys")["items"])
    for bad in (
        {"name": "x", "role": "god"},
        {"name": "x", "role": "account"},
        {"name": "x", "role": "operator", "account": acme},
        {"name": "", "role": "operator"},
        {"name": "x", "role": "operator", "read_only": "yes"},
    ):
        problem(op.post("/v1/keys", bad), 422, "invalid_input")
    problem(
        op.post("/v1/keys", {"name": "x", "role": "account", "account": "nope"}), 404, "not_found"
    )


# -- operator chores and health ------------------------------------------------------------------


def test_tick_books_what_is_due_and_verify_checks_the_books(
    clock: pm.FixedClock, op: Caller, acme: str
) -> None:
    give(op, acme, "email", 5, expires_at=TOMORROW)
    assert op.ok("POST", "/v1/tick") == {
        "renewals": 0,
        "expiries": 0,
        "expired": {},
        "timeouts": 0,
        "events": [],
    }
    clock.advance(timedelta(days=2))
    ticked = op.post("/v1/tick", idempotent=False)
    assert ticked.status_code == 200, ticked.text
    assert (ticked.json()["expiries"], ticked.json()["expired"]) == (1, {"email": "5"})
    assert balance(op, acme, "email") == "1000"
    verified = op.ok("GET", "/v1/verify")
    assert verified["ok"] is True
    assert verified["lots"] == 3


@pytest.mark.usefixtures("acme")
def test_health_readiness_and_metrics(client: TestClient, op: Caller) -> None:
    assert client.get("/healthz").json() == {"ok": True}
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"ok": True})
    assert charge(op, "1.00").status_code == 201
    assert charge(op, "1000.00").status_code == 402
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for name, kind in (
        ("postmeter_charges_total", "counter"),
        ("postmeter_request_seconds", "histogram"),
        ("postmeter_tick_lag_seconds", "gauge"),
    ):
        assert f"# TYPE {name} {kind}" in text
    assert 'postmeter_request_seconds_count{method="POST",' in text
    assert "postmeter_tick_lag_seconds " in text
    assert op.secret is not None
    assert op.secret not in text


@pytest.mark.usefixtures("acme")
def test_metrics_count_charges_by_result_under_their_route(client: TestClient, op: Caller) -> None:
    assert charge(op, "1.00").status_code == 201
    assert charge(op, "1000.00").status_code == 402
    text = client.get("/metrics").text
    assert 'postmeter_charges_total{result="ok"} 1.0' in text
    assert 'postmeter_charges_total{result="insufficient_credits"} 1.0' in text
    assert 'postmeter_request_seconds_count{method="POST",route="/v1/charges",status="201"}' in text


def test_readiness_fails_when_the_database_does_not_answer(backend: str, tmp_path: Any) -> None:
    url = {
        "sqlite": f"sqlite:///{tmp_path}/missing/dir/books.db",
        "postgresql": "postgresql://postmeter@127.0.0.1:1/nowhere?connect_timeout=2",
    }[backend]
    ctx = pm.connect(url, migrate=False)
    try:
        with TestClient(create_app(ctx, tick_interval_s=None), raise_server_exceptions=False) as c:
            ready = c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["ok"] is False
            assert c.get("/healthz").status_code == 200
    finally:
        ctx.store.dispose()


# -- bugs found in src/ --------------------------------------------------------------------------


UNKNOWN_UNIT_REQUESTS = [
    ("GET", "/v1/accounts/acme/balances/bogus", None),
    ("POST", "/v1/charges", {"account": "acme", "unit": "bogus", "credits": 1}),
    ("POST", "/v1/charges/batch", {"items": [{"account": "acme", "unit": "bogus", "credits": 1}]}),
    (
        "POST",
        "/v1/reservations",
        {"account": "acme", "unit": "bogus", "credits": 1, "deadline_at": TOMORROW},
    ),
    ("POST", "/v1/accounts/acme/grants", {"unit": "bogus", "credits": 1, "reason": "x"}),
    ("POST", "/v1/accounts/acme/corrections", {"unit": "bogus", "credits": 1, "reason": "x"}),
    ("PUT", "/v1/accounts/acme/payg", {"unit": "bogus", "price": "1"}),
    ("POST", "/v1/units/bogus/policy", {"signup_credits": 1}),
    (
        "POST",
        "/v1/plans",
        {"code": "p", "name": "P", "unit": "bogus", "credits": 1, "period": "monthly"},
    ),
    (
        "POST",
        "/v1/packages",
        {"code": "k", "name": "K", "unit": "bogus", "credits": 1, "price": "1", "validity_days": 1},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), UNKNOWN_UNIT_REQUESTS, ids=lambda v: str(v)[:40]
)
@pytest.mark.usefixtures("acme")
def test_an_unknown_unit_is_a_404(
    ctx: pm.Context, op: Caller, method: str, path: str, body: Any
) -> None:
    before = books(ctx)
    response = op.get(path) if method == "GET" else op.send(method, path, body)
    if path == "/v1/charges/batch" and response.status_code == 200:
        response_item = response.json()["items"][0]
        assert (response_item["status"], response_item["problem"]["code"]) == (404, "not_found")
    else:
        problem(response, 404, "not_found")
    assert books_diff(before, books(ctx)) == {}


@pytest.mark.parametrize("big", [2**63, 10**20])
def test_an_id_beyond_any_stored_id_is_a_404(op: Caller, big: int) -> None:
    assert_ids_refused(op, big)


def test_an_id_beyond_a_32_bit_column_is_a_404(op: Caller) -> None:
    assert_ids_refused(op, 2**31)


def assert_ids_refused(op: Caller, big: int) -> None:
    for response in (
        op.get(f"/v1/reservations/{big}"),
        op.post(f"/v1/reservations/{big}/capture", {"credits": 1}),
        op.post(f"/v1/reservations/{big}/release"),
        op.post(f"/v1/subscriptions/{big}/cancel"),
    ):
        assert response.status_code in (404, 422), response.text


def test_an_accounts_cursor_beyond_any_id_is_refused(op: Caller) -> None:
    for position in (2**63, 10**27):
        cursor = base64.urlsafe_b64encode(f"a:{position}".encode()).decode()
        problem(op.get("/v1/accounts", {"cursor": cursor}), 422, "invalid_input")


@pytest.mark.parametrize("instant", ["9999-12-31T23:00:00-14:00", "0001-01-01T00:00:00+14:00"])
def test_an_instant_out_of_range_is_a_422(
    ctx: pm.Context, op: Caller, acme: str, instant: str
) -> None:
    before = books(ctx)
    assert op.get("/v1/journal", {"since": instant}).status_code in (200, 422)
    assert op.get("/v1/journal", {"until": instant}).status_code in (200, 422)
    grant = {"unit": "sms", "credits": 1, "reason": "x", "expires_at": instant}
    assert op.post(f"/v1/accounts/{acme}/grants", grant).status_code == 422
    assert books_diff(before, books(ctx)) == {}


def test_text_with_a_nul_character_is_refused_not_a_500(
    ctx: pm.Context, op: Caller, acme: str
) -> None:
    before = books(ctx)
    for response in (
        op.get("/v1/accounts/a%00b"),
        op.get("/v1/accounts/a%00b/balances/sms"),
        op.get("/v1/accounts/a%00b/subscriptions"),
        op.get("/v1/journal", {"account": "a\x00b"}),
        op.post("/v1/charges", {"account": "a\x00b", "unit": "sms", "credits": 1}),
        op.post(f"/v1/accounts/{acme}/purchases", {"package": "p\x00"}),
        op.post(f"/v1/accounts/{acme}/subscriptions", {"plan": "p\x00"}),
        op.post("/v1/keys/a%00b/revoke"),
    ):
        assert response.status_code in (404, 422), response.text
    # Filters that match nothing are an empty list.
    for response in (
        op.get("/v1/journal", {"unit": "s\x00"}),
        op.get("/v1/journal", {"kind": "k\x00"}),
        op.get("/v1/packages", {"unit": "s\x00"}),
    ):
        assert response.status_code in (200, 422), response.text
    assert books_diff(before, books(ctx)) == {}


@pytest.mark.usefixtures("shop")
def test_another_trees_object_is_indistinguishable_from_a_missing_one(
    ctx: pm.Context, client: TestClient, op: Caller, acme: str
) -> None:
    open_account(op, "rival")
    rival = key_for(ctx, client, "rival")
    held = reserve(op, 1).json()["id"]
    sub = op.ok("POST", f"/v1/accounts/{acme}/subscriptions", {"plan": "pro"})["id"]
    missing = 4242

    def shape(response: httpx2.Response, ident: int) -> dict[str, Any]:
        """The body with the id itself written as N."""
        body: dict[str, Any] = response.json()
        return {
            k: "N" if v == ident else v.replace(str(ident), "N") if k == "detail" else v
            for k, v in body.items()
        }

    for method, template, ident in (
        ("GET", "/v1/reservations/{}", held),
        ("POST", "/v1/reservations/{}/release", held),
        ("POST", "/v1/subscriptions/{}/cancel", sub),
    ):
        hidden = rival.send(method, template.format(ident))
        absent = rival.send(method, template.format(missing))
        assert hidden.status_code == absent.status_code == 404
        assert shape(hidden, ident) == shape(absent, missing), template


def test_a_key_secret_is_shown_once_and_never_stored_in_clear(ctx: pm.Context, op: Caller) -> None:
    made = op.post("/v1/keys", {"name": "billing", "role": "operator"}, key="mint-1")
    secret = made.json()["secret"]
    replay = op.post("/v1/keys", {"name": "billing", "role": "operator"}, key="mint-1")
    assert replay.status_code == 201
    assert replay.json().get("secret") != secret
    with ctx.store.read() as tx:
        kept = list(tx.conn.scalars(select(t.http_replies.c.body)))
    assert not any(secret.split("_", 2)[2] in body for body in kept)
