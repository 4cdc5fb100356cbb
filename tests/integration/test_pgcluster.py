"""The throwaway PostgreSQL cluster used by the integration tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.support.pgcluster import PG_BIN_ENV, PgCluster


def _show(conn: psycopg.Connection[tuple[str]], setting: str) -> str:
    row = conn.execute(f"SHOW {setting}").fetchone()
    assert row is not None
    return row[0]


def test_cluster_lifecycle_and_durable_settings() -> None:
    cluster = PgCluster()
    cluster.start()
    try:
        base_dir = cluster.base_dir
        assert cluster.data_dir.is_dir()
        assert cluster.url == f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/postgres"

        url = cluster.create_database("pgcluster_smoke")
        assert url == (f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/pgcluster_smoke")

        with psycopg.connect(cluster.conninfo("pgcluster_smoke")) as conn:
            conn.execute("CREATE TABLE t (id integer PRIMARY KEY, note text NOT NULL)")
            conn.execute("INSERT INTO t (id, note) VALUES (%s, %s)", (1, "hello"))
            conn.commit()
            assert conn.execute("SELECT id, note FROM t").fetchall() == [(1, "hello")]
            assert _show(conn, "synchronous_commit") == "on"
            assert _show(conn, "fsync") == "on"
            assert _show(conn, "listen_addresses") == "127.0.0.1"
            assert _show(conn, "max_connections") == "200"
            assert _show(conn, "shared_buffers") == "128MB"

        cluster.drop_database("pgcluster_smoke")
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_database WHERE datname = 'pgcluster_smoke'"
            ).fetchone()
            assert row == (0,)
    finally:
        cluster.stop()

    assert not cluster.running
    assert not base_dir.exists()
    assert not cluster.data_dir.exists()
    cluster.stop()  # idempotent


def test_context_manager_removes_directory() -> None:
    with PgCluster() as cluster:
        base_dir = cluster.base_dir
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not base_dir.exists()


def test_missing_binaries_raise_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PG_BIN_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match=r"initdb.*apt-get install postgresql"):
        PgCluster()


def test_rejects_unsafe_database_names() -> None:
    with PgCluster() as cluster, pytest.raises(ValueError, match="invalid database name"):
        cluster.create_database('x"; DROP DATABASE postgres; --')
