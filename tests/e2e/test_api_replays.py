"""1,000 charge requests, replayed concurrently with their Idempotency-Keys, charge each key once.

A real uvicorn server on a loopback port; 500 keys, each sent twice, back to back, from 16 threads
with their own HTTP clients, so most pairs race each other through the server. Afterwards, on
SQLite and on PostgreSQL: the balance fell by exactly 500 charges, the journal holds exactly 500
charge entries, both answers of every pair are identical (status and body) and exactly one of
them is marked as a replay, and ``verify`` finds the books in balance.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx2

import postmeter as pm
from postmeter.api.app import create_app
from postmeter.api.idempotency import REPLAYED_HEADER
from postmeter.service import reports
from tests.support.api import bearer, mint, serving

KEYS = 500
THREADS = 16
CREDITS = "1.25"  # SMS credits per charge (scale 2: 125 steps)
START_STEPS = 1_000_000  # 10,000.00 SMS credits


@dataclass(frozen=True, slots=True)
class Answer:
    key: str
    status: int
    body: str
    replayed: bool
    started_s: float
    ended_s: float


class Clients:
    """One HTTP client per worker thread, all closed at the end."""

    def __init__(self, base_url: str, secret: str) -> None:
        self._base_url = base_url
        self._headers = bearer(secret)
        self._local = threading.local()
        self._all: list[httpx2.Client] = []
        self._lock = threading.Lock()

    def mine(self) -> httpx2.Client:
        client: httpx2.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx2.Client(base_url=self._base_url, headers=self._headers, timeout=120)
            self._local.client = client
            with self._lock:
                self._all.append(client)
        return client

    def close(self) -> None:
        for client in self._all:
            client.close()


def charge_over_http(clients: Clients, key: str) -> Answer:
    body = {"account": "acme", "unit": "sms", "credits": CREDITS, "reference": key}
    started_s = time.monotonic()
    response = clients.mine().post("/v1/charges", json=body, headers={"Idempotency-Key": key})
    return Answer(
        key,
        response.status_code,
        response.text,
        response.headers.get(REPLAYED_HEADER) == "true",
        started_s,
        time.monotonic(),
    )


def test_a_thousand_concurrent_replays_charge_each_key_once(ctx: pm.Context) -> None:
    pm.create_account(ctx, pm.OPERATOR, "open-acme", "acme", "Acme", "ops@acme.test")
    pm.grant(ctx, pm.OPERATOR, "fund-acme", "acme", "sms", START_STEPS, reason="test credits")
    secret = mint(ctx, "replays")
    sends = [f"charge-{i:03}" for i in range(KEYS) for _ in range(2)]  # each key twice in a row

    with serving(create_app(ctx, tick_interval_s=None)) as base_url:
        clients = Clients(base_url, secret)
        try:
            with ThreadPoolExecutor(THREADS) as pool:
                answers = list(pool.map(lambda key: charge_over_http(clients, key), sends))
        finally:
            clients.close()

    pairs: dict[str, list[Answer]] = defaultdict(list)
    for answer in answers:
        pairs[answer.key].append(answer)
    assert len(pairs) == KEYS
    for key, (first, second) in pairs.items():
        assert first.status == 201, (key, first.body)
        assert (second.status, second.body) == (first.status, first.body), key
        assert first.replayed != second.replayed, key  # one booked it, the other replayed it
    raced = sum(1 for a, b in pairs.values() if a.started_s < b.ended_s and b.started_s < a.ended_s)
    assert raced >= KEYS // 10, f"only {raced} pairs were in flight together"

    summary = reports.summary(ctx, "acme", "sms")
    assert summary.balance == START_STEPS - KEYS * 125
    assert summary.available == summary.balance
    entries = pm.journal(ctx, account="acme", kind="charge", limit=10_000)
    assert len(entries) == KEYS
    assert len({entry.txn_id for entry in entries}) == KEYS
    assert all(entry.delta == -125 for entry in entries)
    pm.verify(ctx)
