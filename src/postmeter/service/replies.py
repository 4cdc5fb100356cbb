"""What the HTTP API answered under an Idempotency-Key, kept so a replay gets the same answer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from postmeter.service.context import Context
from postmeter.store import tables as t


@dataclass(frozen=True, slots=True)
class Reply:
    fingerprint: str
    status: int
    body: str


def find_reply(ctx: Context, scope: str, key: str) -> Reply | None:
    with ctx.store.read() as tx:
        row = tx.conn.execute(
            select(
                t.http_replies.c.fingerprint, t.http_replies.c.status, t.http_replies.c.body
            ).where(t.http_replies.c.scope == scope, t.http_replies.c.idem_key == key)
        ).first()
    return None if row is None else Reply(row.fingerprint, row.status, row.body)


def keep_reply(ctx: Context, scope: str, key: str, reply: Reply) -> Reply:
    """Keep ``reply`` unless one was kept first under the key; returns the one kept."""
    try:
        with ctx.store.write() as tx:
            tx.conn.execute(
                t.http_replies.insert().values(
                    scope=scope,
                    idem_key=key,
                    fingerprint=reply.fingerprint,
                    status=reply.status,
                    body=reply.body,
                    created_at=ctx.clock.now(),
                )
            )
    except IntegrityError:
        kept = find_reply(ctx, scope, key)
        assert kept is not None
        return kept
    return reply
