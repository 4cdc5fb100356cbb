"""Fresh, migrated databases for tests and benchmarks, on SQLite and on PostgreSQL.

Each kind is migrated once into a template; every test then gets a copy (a file copy for SQLite,
``CREATE DATABASE ... TEMPLATE`` for PostgreSQL), so a test starts from an empty, current schema
in milliseconds.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

import psycopg

from postmeter.store.engine import make_engine
from postmeter.store.migrate import upgrade
from tests.support.pgcluster import PgCluster

BACKENDS = ("sqlite", "postgresql")
_TEMPLATE = "postmeter_template"


class Databases:
    """Hands out empty migrated databases; starts PostgreSQL on first use."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="postmeter-test-"))
        self._sqlite_template: Path | None = None
        self._pg: PgCluster | None = None
        self._names = itertools.count(1)

    def fresh(self, backend: str) -> str:
        """The URL of a new empty database of ``backend``."""
        if backend == "sqlite":
            return self._fresh_sqlite()
        if backend == "postgresql":
            return self._fresh_pg()
        raise ValueError(f"unknown backend {backend!r}")

    @property
    def pg(self) -> PgCluster:
        if self._pg is None:
            self._pg = PgCluster().start()
            url = self._pg.create_database(_TEMPLATE)
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
        return self._pg

    def close(self) -> None:
        if self._pg is not None:
            self._pg.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _fresh_sqlite(self) -> str:
        if self._sqlite_template is None:
            self._sqlite_template = self._dir / "template.db"
            engine = make_engine(f"sqlite:///{self._sqlite_template}")
            upgrade(engine)
            engine.dispose()
        path = self._dir / f"db{next(self._names)}.db"
        shutil.copyfile(self._sqlite_template, path)
        return f"sqlite:///{path}"

    def _fresh_pg(self) -> str:
        cluster = self.pg
        name = f"t{next(self._names)}"
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}"')
        return cluster.url_for(name)
