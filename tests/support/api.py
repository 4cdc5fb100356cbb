"""Helpers shared by the HTTP API tests (tests/e2e/test_api_*.py).

A ``Caller`` drives the real app with one API key and a fresh Idempotency-Key per change;
``problem`` checks a problem+json answer; ``books`` snapshots every table of the books, so a test
can show that a request changed nothing; ``serving`` runs the app on uvicorn on a loopback port.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2
import uvicorn
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

import postmeter as pm
from postmeter.service import keys
from postmeter.store import tables as t

PROBLEM = "application/problem+json"
MAX_STEPS = 2**63 - 1
# What the HTTP layer keeps to answer replays; everything else is the books.
NOT_BOOKS = frozenset({"http_replies"})

_serial = itertools.count(1)


def fresh_key(tag: str = "idem") -> str:
    """An Idempotency-Key no other request of this process uses."""
    return f"{tag}-{next(_serial)}"


def mint(
    ctx: pm.Context,
    name: str,
    *,
    role: str = "operator",
    account: str | None = None,
    read_only: bool = False,
) -> str:
    """A new API key, minted through the service layer; returns the whole secret."""
    made = keys.create_key(
        ctx,
        pm.OPERATOR,
        fresh_key("mint"),
        name,
        role=role,
        account=account,
        read_only=read_only,
    )
    assert made.secret is not None
    return made.secret


def prefix_of(secret: str) -> str:
    """The visible prefix of ``pm_<prefix>_<secret>``."""
    return secret.split("_")[1]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Caller:
    """Requests to the app as the holder of one API key (or of none)."""

    client: TestClient
    secret: str | None

    def headers(self, key: str | None = None, *, idempotent: bool = True) -> dict[str, str]:
        headers = bearer(self.secret) if self.secret is not None else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        elif idempotent:
            headers["Idempotency-Key"] = fresh_key()
        return headers

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx2.Response:
        headers = self.headers(None, idempotent=False)
        return self.client.get(path, params=dict(params) if params else None, headers=headers)

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        idempotent: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> httpx2.Response:
        """``method path`` with ``body`` as JSON; a fresh Idempotency-Key unless told."""
        return self.client.request(
            method,
            path,
            json=body,
            params=dict(params) if params else None,
            headers=self.headers(key, idempotent=idempotent),
        )

    def post(
        self, path: str, body: Any = None, *, key: str | None = None, idempotent: bool = True
    ) -> httpx2.Response:
        return self.send("POST", path, body, key=key, idempotent=idempotent)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """Send, expect 2xx, return the JSON body."""
        response = self.send(method, path, body) if method != "GET" else self.get(path)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json()


def problem(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    """Check ``response`` is a problem+json (RFC 9457) with ``status`` and ``code``; return it."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    assert body["code"] == code, body
    assert body["type"].endswith(f"/{code}"), body
    assert isinstance(body["title"], str), body
    assert body["title"], body
    assert isinstance(body["detail"], str), body
    assert body["detail"], body
    return body


Books = dict[str, list[tuple[Any, ...]]]


def books(ctx: pm.Context) -> Books:
    """Every row of every table of the books, in primary-key order."""
    snapshot: Books = {}
    with ctx.store.read() as tx:
        for table in t.metadata.sorted_tables:
            if table.name in NOT_BOOKS:
                continue
            query = select(table).order_by(*table.primary_key.columns)
            snapshot[table.name] = [tuple(row) for row in tx.conn.execute(query)]
    return snapshot


def books_diff(before: Books, after: Books) -> dict[str, tuple[int, int]]:
    """The tables that changed, with their row counts before and after (empty: no change)."""
    return {
        name: (len(before[name]), len(after.get(name, [])))
        for name in before
        if before[name] != after.get(name)
    }


@contextmanager
def serving(app: FastAPI, *, timeout_s: float = 15.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port, in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", ws="none", backlog=256
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start in time"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of the app, as the app itself declares it."""

    method: str
    path: str  # the template, e.g. /v1/accounts/{ref}
    params: tuple[str, ...]  # path parameters
    needs: frozenset[str]  # every dependency it runs: principal, operator, idempotency_key...
    has_body: bool

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def changes(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    @property
    def operator_only(self) -> bool:
        return "operator" in self.needs

    def url(self, values: Mapping[str, object]) -> str:
        """The path with its parameters filled in from ``values``."""
        missing = [name for name in self.params if name not in values]
        assert not missing, f"{self.label}: no value for path parameter(s) {missing}"
        return self.path.format(**{name: quote(str(values[name]), safe="") for name in self.params})


def api_routes(app: FastAPI, prefix: str = "/v1") -> list[Route]:
    """Every operation the app serves under ``prefix``, walked from ``app.routes``."""
    found: list[Route] = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if not isinstance(route, APIRoute) or path is None or not path.startswith(f"{prefix}/"):
            continue
        needs = frozenset(_needs(route.dependant))
        params = tuple(param.name for param in route.dependant.path_params)
        for method in sorted(context.methods or ()):
            found.append(Route(method, path, params, needs, route.body_field is not None))
    return found


def _needs(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        yield getattr(sub.call, "__name__", repr(sub.call))
        yield from _needs(sub)
