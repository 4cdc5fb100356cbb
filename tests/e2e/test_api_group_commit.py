"""Charges booked in groups (api/committer.py) each get exactly their own answer.

A real uvicorn server; 16 threads send charges at once, so that many are booked in one group:
successes and refusals of every kind, the same key twice in flight, a key reused with another
request. Every answer must be what that request alone would have got, the books must hold exactly
the successes, and every kept answer must replay as it was, refusals included, even after the
credits that were missing arrived. Keys remembered by the server are refused the moment they are
revoked, also when revoked by another process.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

import postmeter as pm
from postmeter.api.app import create_app
from postmeter.api.idempotency import REPLAYED_HEADER
from postmeter.service import keys, reports
from tests.support.api import bearer, mint, prefix_of, problem, serving

THREADS = 16
FUNDED = 40  # e-mail credits of "acme": fewer than the charges asking for them


@dataclass(frozen=True, slots=True)
class Sent:
    key: str
    body: dict[str, Any]
    status: int
    text: str
    replayed: bool


class Clients:
    """One keep-alive HTTP client per thread."""

    def __init__(self, base_url: str, secret: str) -> None:
        self._base_url, self._headers = base_url, bearer(secret)
        self._local = threading.local()
        self._all: list[httpx2.Client] = []
        self._lock = threading.Lock()

    def send(self, key: str, body: dict[str, Any]) -> Sent:
        client: httpx2.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx2.Client(base_url=self._base_url, headers=self._headers, timeout=120)
            self._local.client = client
            with self._lock:
                self._all.append(client)
        r = client.post("/v1/charges", json=body, headers={"Idempotency-Key": key})
        return Sent(key, body, r.status_code, r.text, r.headers.get(REPLAYED_HEADER) == "true")

    def close(self) -> None:
        for client in self._all:
            client.close()


def charge(credits: Any = 1, account: str = "acme", unit: str = "email") -> dict[str, Any]:
    return {"account": account, "unit": unit, "credits": credits}


# (key, body) of every request sent at once; "twice-*" keys are sent twice, back to back.
WANTED = [(f"ok-{i}", charge()) for i in range(60)]  # 40 can be booked, 20 are refused (402)
REFUSED = [
    ("no-account", charge(account="nobody")),  # 404, kept
    ("no-unit", charge(unit="pigeons")),  # 404, kept
    ("bad-amount", charge(credits="1.5")),  # 422: e-mail credits are whole, kept
]
TWICE = [(f"twice-{i}", charge(account="beta")) for i in range(8)]  # beta has plenty


def send_all(base_url: str, secret: str, requests: list[tuple[str, dict[str, Any]]]) -> list[Sent]:
    clients = Clients(base_url, secret)
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(lambda kb: clients.send(*kb), requests))
    finally:
        clients.close()


def test_concurrent_charges_each_get_their_own_answer_and_replay_it(ctx: pm.Context) -> None:
    pm.create_account(ctx, pm.OPERATOR, "open-acme", "acme", "Acme", "ops@acme.test")
    pm.grant(ctx, pm.OPERATOR, "fund-acme", "acme", "email", FUNDED, reason="test credits")
    pm.create_account(ctx, pm.OPERATOR, "open-beta", "beta", "Beta", "ops@beta.test")
    pm.grant(ctx, pm.OPERATOR, "fund-beta", "beta", "email", 1000, reason="test credits")
    secret = mint(ctx, "group")
    first = [*WANTED, *REFUSED, *(kb for kb in TWICE for _ in range(2))]

    with serving(create_app(ctx, tick_interval_s=None)) as base_url:
        answers = send_all(base_url, secret, first)
        # The same key with another request: 409, whatever the first answer was.
        reused = send_all(base_url, secret, [("ok-0", charge(2)), ("no-unit", charge(3))])
        # More credits arrive; the refused keys still answer as they did, and book nothing.
        pm.grant(ctx, pm.OPERATOR, "top-up", "acme", "email", 1000, reason="top-up")
        again = send_all(base_url, secret, first)

    statuses = Counter(a.status for a in answers if a.key.startswith("ok-"))
    assert statuses == {201: FUNDED, 402: len(WANTED) - FUNDED}, statuses
    for a in answers:
        if a.key in ("no-account", "no-unit"):
            assert (a.status, json.loads(a.text)["code"]) == (404, "not_found"), a
        elif a.key == "bad-amount":
            assert (a.status, json.loads(a.text)["code"]) == (422, "invalid_amount"), a
        elif a.status == 402:
            assert json.loads(a.text)["code"] == "insufficient_credits", a
        else:
            assert a.status == 201, a
    for key, _ in TWICE:  # one booked it, the other replayed that very answer
        pair = [a for a in answers if a.key == key]
        assert [a.status for a in pair] == [201, 201], pair
        assert pair[0].text == pair[1].text, pair
        assert sorted(a.replayed for a in pair) == [False, True], pair
    assert all(not a.replayed for a in answers if not a.key.startswith("twice-"))

    for r in reused:
        assert (r.status, json.loads(r.text)["code"]) == (409, "idempotency_key_reused"), r
    firsts = {a.key: a for a in answers}
    for a in again:
        assert (a.status, a.text, a.replayed) == (firsts[a.key].status, firsts[a.key].text, True)

    assert reports.summary(ctx, "acme", "email").balance == 1000  # all 40 spent, then the top-up
    assert reports.summary(ctx, "beta", "email").balance == 1000 - len(TWICE)
    charges = pm.journal(ctx, kind="charge", limit=1000)
    assert len(charges) == FUNDED + len(TWICE)
    txn_ids = {json.loads(a.text)["txn_id"] for a in answers if a.status == 201}
    assert txn_ids == {e.txn_id for e in charges}
    pm.verify(ctx)


@pytest.fixture
def client(ctx: pm.Context) -> Iterator[TestClient]:
    pm.create_account(ctx, pm.OPERATOR, "open-acme", "acme", "Acme", "ops@acme.test")
    pm.grant(ctx, pm.OPERATOR, "fund-acme", "acme", "email", 100, reason="test credits")
    with TestClient(create_app(ctx, tick_interval_s=None)) as test_client:
        yield test_client


def test_a_remembered_key_revoked_by_another_process_is_refused_at_once(
    ctx: pm.Context, client: TestClient
) -> None:
    for role, account in (("operator", None), ("account", "acme")):
        secret = mint(ctx, f"{role}-key", role=role, account=account)
        sent = {**bearer(secret), "Idempotency-Key": f"{role}-1"}
        assert client.post("/v1/charges", json=charge(), headers=sent).status_code == 201
        # Remembered now: the next charge skips reading the key. Revoked underneath the server,
        # as another server process (or the CLI) would revoke it:
        keys.revoke_key(ctx, pm.OPERATOR, f"revoke-{role}", prefix_of(secret))
        sent = {**bearer(secret), "Idempotency-Key": f"{role}-2"}
        problem(client.post("/v1/charges", json=charge(), headers=sent), 401, "unauthenticated")
        # Its replays too, and whatever else is wrong with its request.
        sent = {**bearer(secret), "Idempotency-Key": f"{role}-1"}
        problem(client.post("/v1/charges", json=charge(), headers=sent), 401, "unauthenticated")
        problem(client.post("/v1/charges", json={}, headers=sent), 401, "unauthenticated")
        no_key = bearer(secret)
        problem(client.post("/v1/charges", json=charge(), headers=no_key), 401, "unauthenticated")
    assert reports.summary(ctx, "acme", "email").balance == 98


def test_an_account_key_charges_only_inside_its_tree(ctx: pm.Context, client: TestClient) -> None:
    pm.create_account(ctx, pm.OPERATOR, "open-kid", "acme-kid", "Kid", "k@acme.test", parent="acme")
    pm.create_account(ctx, pm.OPERATOR, "open-other", "other", "Other", "o@other.test")
    pm.grant(ctx, pm.OPERATOR, "fund-other", "other", "email", 100, reason="test credits")
    keyed = {
        "parent": bearer(mint(ctx, "parent", role="account", account="acme")),
        "kid": bearer(mint(ctx, "kid", role="account", account="acme-kid")),
    }
    outside = {("parent", "other"), ("kid", "acme"), ("kid", "other")}
    for who, account in [(w, a) for w in keyed for a in ("acme", "acme-kid", "other")]:
        # The first request authenticates the key; the second finds it remembered (and a
        # third, a replay, answers as the second did).
        answers = [
            client.post(
                "/v1/charges",
                json=charge(account=account),
                headers={**keyed[who], "Idempotency-Key": f"{who}-{account}-{n}"},
            )
            for n in (1, 2, 2)
        ]
        assert len({(r.status_code, r.json().get("code")) for r in answers}) == 1, answers
        if (who, account) in outside:
            problem(answers[0], 404, "not_found")
        elif account == "acme":
            assert answers[0].status_code == 201
    assert reports.summary(ctx, "other", "email").balance == 100
    assert reports.summary(ctx, "acme", "email").balance == 98  # the parent's two charges
