"""Fixtures shared by every test: fresh databases of both kinds, a clock that moves when told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import postmeter as pm
from tests.support.databases import BACKENDS, Databases

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    dbs = Databases()
    yield dbs
    dbs.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(databases: Databases, backend: str) -> str:
    """An empty migrated database, once on SQLite and once on PostgreSQL."""
    return databases.fresh(backend)


@pytest.fixture
def clock() -> pm.FixedClock:
    return pm.FixedClock(START)


@pytest.fixture
def ctx(db_url: str, clock: pm.FixedClock) -> Iterator[pm.Context]:
    context = pm.connect(db_url, clock=clock)
    yield context
    context.store.dispose()
