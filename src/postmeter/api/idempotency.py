"""The Idempotency-Key header: required on every request that changes the books.

The first answer under a key (success or refusal; never a server error) is kept, and a replay of
the same request gets the very same status and body. The same key with another request is 409.
Underneath, the services are idempotent on the same key, so two racing first requests still book
once and answer alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import Response

from postmeter.api.problems import MEDIA_TYPE, ApiError, from_error, problem
from postmeter.domain.errors import PostmeterError
from postmeter.domain.idempotency import check_key
from postmeter.service.context import Context
from postmeter.service.keys import Principal
from postmeter.service.replies import Reply, find_reply, keep_reply

REPLAYED_HEADER = "Idempotent-Replayed"


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="A unique key per change; a replay returns the first answer.",
            max_length=200,
        ),
    ] = None,
) -> str:
    if key is None or key == "":
        raise ApiError(400, "idempotency_key_missing", "send an Idempotency-Key header")
    return check_key(key)


Work = Callable[[], tuple[int, Any]]


def replayable(
    ctx: Context,
    who: Principal,
    key: str,
    request: dict[str, Any],
    work: Work,
    scale_of: Callable[[str], int] | None = None,
    redact: Callable[[Any], Any] | None = None,
) -> Response:
    """Answer ``work()`` once per key; replay the first answer after that.

    ``redact`` turns a successful body into what is kept for replays (a key's secret is not).
    """
    scope = who.actor.scope
    fp = fingerprint(request)
    prior = find_reply(ctx, scope, key)
    if prior is None:
        try:
            status, body = work()
        except PostmeterError as exc:
            status, body = from_error(exc, scale_of)
        text = json.dumps(body)
        reply = Reply(fp, status, json.dumps(redact(body)) if redact and status < 400 else text)
        kept = keep_reply(ctx, scope, key, reply) if status < 500 else reply
        if kept is reply:
            return answer(status, text)
        prior = kept
    return answer(*replayed(prior, fp, key))


def fingerprint(request: dict[str, Any]) -> str:
    """What tells two requests under one key apart: a digest of the request as JSON."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def replayed(prior: Reply, fp: str, key: str) -> tuple[int, str, bool]:
    """The answer to a request under a key that has ``prior`` kept: it again, or 409 when the
    request is another than the one that got it."""
    if prior.fingerprint != fp:
        body = problem(
            409,
            "idempotency_key_reused",
            f"Idempotency-Key {key!r} was used before for a different request",
        )
        return 409, json.dumps(body), False
    return prior.status, prior.body, True


def answer(status: int, body: str, replay: bool = False) -> Response:
    """An answer as sent: problem+json for a refusal, and the replay header on a replay."""
    return Response(
        body,
        status_code=status,
        media_type=MEDIA_TYPE if status >= 400 else "application/json",
        headers={REPLAYED_HEADER: "true"} if replay else None,
    )
