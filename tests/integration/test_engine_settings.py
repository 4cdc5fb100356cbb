"""Every connection the engine hands out is set up for durable commits (store/engine.py)."""

from __future__ import annotations

import pytest

import postmeter as pm
from postmeter.store.engine import SQLITE_CHECKPOINT_PAGES


def test_every_connection_commits_durably(ctx: pm.Context) -> None:
    engine = ctx.store.engine
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
        else:
            pragmas = ("journal_mode", "synchronous", "foreign_keys", "wal_autocheckpoint")
            found = {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar_one() for p in pragmas}
            # synchronous 2 is FULL: the WAL is synced at every commit.
            assert found == {
                "journal_mode": "wal",
                "synchronous": 2,
                "foreign_keys": 1,
                "wal_autocheckpoint": SQLITE_CHECKPOINT_PAGES,
            }
        conn.rollback()


def test_an_in_memory_sqlite_database_is_refused() -> None:
    with pytest.raises(pm.InvalidInput, match="in-memory"):
        pm.connect("sqlite://")
