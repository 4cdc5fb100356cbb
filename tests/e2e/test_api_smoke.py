"""The API end to end through the real app: a key, an account, credits, a charge, a replay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import postmeter as pm
from postmeter.api.app import create_app
from postmeter.service import keys


@pytest.fixture
def client(ctx: pm.Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, tick_interval_s=None)) as c:
        yield c


def test_a_charge_over_http_is_booked_once_and_replayed(
    ctx: pm.Context, client: TestClient
) -> None:
    secret = keys.create_key(ctx, pm.OPERATOR, "k", "ops", role="operator").secret
    auth = {"Authorization": f"Bearer {secret}"}
    r = client.post(
        "/v1/accounts",
        json={"ref": "acme", "name": "Acme", "email": "ops@acme.test"},
        headers={**auth, "Idempotency-Key": "a1"},
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/accounts/acme/grants",
        json={"unit": "sms", "credits": "10.50", "reason": "gift"},
        headers={**auth, "Idempotency-Key": "g1"},
    )
    assert r.status_code == 201, r.text
    body = {"account": "acme", "unit": "sms", "credits": "2.25"}
    first = client.post("/v1/charges", json=body, headers={**auth, "Idempotency-Key": "c1"})
    again = client.post("/v1/charges", json=body, headers={**auth, "Idempotency-Key": "c1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert first.json()["balance"] == "8.25"
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(
        "/v1/charges", json={**body, "credits": "3"}, headers={**auth, "Idempotency-Key": "c1"}
    )
    assert other.status_code == 409
    short = client.post(
        "/v1/charges", json={**body, "credits": 100}, headers={**auth, "Idempotency-Key": "c2"}
    )
    assert short.status_code == 402
    assert short.headers["content-type"] == "application/problem+json"
    assert short.json()["shortfall"] == "91.75"
    floats = client.post(
        "/v1/charges", json={**body, "credits": 1.5}, headers={**auth, "Idempotency-Key": "c3"}
    )
    assert floats.status_code == 422
    assert client.get("/v1/verify", headers=auth).json()["ok"] is True
