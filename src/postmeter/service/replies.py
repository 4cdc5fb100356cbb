"""What the HTTP API answered under an Idempotency-Key, kept so a replay gets the same answer."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from postmeter.service.context import Context
from postmeter.store import tables as t
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class Reply:
    fingerprint: str
    status: int
    body: str


# (scope, Idempotency-Key): where a kept answer is found.
Place = tuple[str, str]


def find_reply(ctx: Context, scope: str, key: str) -> Reply | None:
    with ctx.store.read() as tx:
        return kept_among(tx, [(scope, key)]).get((scope, key))


def keep_reply(ctx: Context, scope: str, key: str, reply: Reply) -> Reply:
    """Keep ``reply`` unless one was kept first under the key; returns the one kept."""
    return keep_replies(ctx, [((scope, key), reply)]).get((scope, key), reply)


def kept_among(tx: Tx, places: Collection[Place]) -> dict[Place, Reply]:
    """The answers kept under any of ``places``: one query per scope (a group of requests
    mostly comes from one scope)."""
    by_scope: dict[str, list[str]] = {}
    for scope, key in places:
        by_scope.setdefault(scope, []).append(key)
    found: dict[Place, Reply] = {}
    for scope, keys in by_scope.items():
        for key, fp, status, body in _kept(tx, scope, keys):
            found[(scope, key)] = Reply(fp, status, body)
    return found


def keep_replies(ctx: Context, replies: Sequence[tuple[Place, Reply]]) -> dict[Place, Reply]:
    """Keep many answers in one transaction, each unless one was kept first under its place.

    Returns the answers kept first by someone else, by place: every other reply given is kept.
    """
    if not replies:
        return {}
    now = ctx.clock.now()
    rows = [
        {
            "scope": scope,
            "idem_key": key,
            "fingerprint": reply.fingerprint,
            "status": reply.status,
            "body": reply.body,
            "created_at": now,
        }
        for (scope, key), reply in replies
    ]
    with ctx.store.write() as tx:
        # ON CONFLICT DO NOTHING: a place taken by a racing request (another process, the batch
        # route) must not undo the others' rows; RETURNING says which rows went in.
        kept = {(r.scope, r.idem_key) for r in tx.conn.execute(_insert_new(tx.dialect), rows)}
        lost = [place for place, _ in replies if place not in kept]
        return kept_among(tx, lost) if lost else {}


def _kept(tx: Tx, scope: str, keys: list[str]) -> Iterable[Any]:
    """Rows of (key, fingerprint, status, body)."""
    if tx.dialect == "postgresql":
        driver = tx.conn.connection.driver_connection
        assert driver is not None
        # Never prepared: psycopg prepares a statement on its fifth run, and PostgreSQL then
        # keeps the generic plan made then. Made while http_replies was small (a fresh
        # database), that plan scans the table: slower with every reply kept.
        rows: list[Any] = driver.execute(_KEPT_AMONG_PG, (keys, scope), prepare=False).fetchall()
        return rows
    return tx.conn.execute(_KEPT_AMONG, {"scope": scope, "keys": keys})


_KEPT_AMONG = select(
    t.http_replies.c.idem_key,
    t.http_replies.c.fingerprint,
    t.http_replies.c.status,
    t.http_replies.c.body,
).where(
    t.http_replies.c.scope == bindparam("scope"),
    t.http_replies.c.idem_key.in_(bindparam("keys", expanding=True)),
)
# PostgreSQL finds each key by the whole primary key, one look-up per key (LIMIT 1 keeps the
# planner from turning the look-ups into a join).
_KEPT_AMONG_PG = (
    "SELECT k.key, r.fingerprint, r.status, r.body FROM unnest(%s::text[]) AS k(key)"
    " JOIN LATERAL (SELECT fingerprint, status, body FROM http_replies"
    " WHERE scope = %s AND idem_key = k.key LIMIT 1) AS r ON true"
)


@cache  # building a statement costs more than running it
def _insert_new(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(t.http_replies)
        .on_conflict_do_nothing(index_elements=["scope", "idem_key"])
        .returning(t.http_replies.c.scope, t.http_replies.c.idem_key)
    )
