"""Running a change exactly once per idempotency key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from postmeter.domain.errors import IdempotencyConflict
from postmeter.domain.idempotency import check_key, fingerprint
from postmeter.service.context import Actor, Context
from postmeter.store.uow import StoredTxn, Tx

Work = Callable[[Tx, int, datetime], dict[str, Any]]


def run_once(
    ctx: Context,
    actor: Actor,
    key: str,
    operation: str,
    request: Mapping[str, Any],
    work: Work,
    *,
    root_id: int | None = None,
    reason: str | None = None,
) -> tuple[dict[str, Any], int, bool]:
    """Run ``work`` in one transaction under ``key``, or replay what the key did before.

    Returns ``(result, txn_id, replayed)``. A key seen before with another request raises
    ``IdempotencyConflict`` and changes nothing. An error raised by ``work`` rolls everything
    back, the key included, so a refused request may be retried under the same key.
    """
    check_key(key)
    fp = fingerprint(operation, request)
    for attempt in (1, 2):
        try:
            with ctx.store.write() as tx:
                prior = tx.find_txns(actor.scope, [key]).get(key)
                if prior is not None:
                    return replay(prior, fp, key), prior.id, True
                now = ctx.clock.now()
                txn_id = tx.insert_txn(
                    {
                        "scope": actor.scope,
                        "idem_key": key,
                        "fingerprint": fp,
                        "operation": operation,
                        "root_id": root_id,
                        "actor": actor.name,
                        "reason": reason,
                        "created_at": now,
                        "result": {},
                    }
                )
                result = work(tx, txn_id, now)
                tx.set_txn_result(txn_id, result)
                return result, txn_id, False
        except IntegrityError:
            # Two requests raced with one key: the loser replays the winner's result.
            if attempt == 2 or not key_taken(ctx, actor, key):
                raise
    raise AssertionError("unreachable")


def replay(prior: StoredTxn, fp: str, key: str) -> dict[str, Any]:
    if prior.fingerprint != fp:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was used before for a different request", key=key
        )
    return prior.result


def key_taken(ctx: Context, actor: Actor, key: str) -> bool:
    with ctx.store.read() as tx:
        return key in tx.find_txns(actor.scope, [key])
