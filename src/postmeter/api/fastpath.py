"""``POST /v1/charges`` without FastAPI's routing and dependency solving, when nothing in the
request needs them.

Every message sent is a charge, and the server's Python runs on one core at a time: FastAPI's
route matching and dependency solving cost about as much CPU as booking the charge. So a charge
that has nothing to refuse before it books skips them: a key the server has authenticated lately
(api/auth.py), an Idempotency-Key it accepts, a small JSON body the route's own model accepts.
It is booked by the same committer as the route books with (api/committer.py), whose first read
refuses a key revoked since; the answer is the same. Any other request goes on to the route,
which answers it (and every refusal) as it always has.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postmeter.api.auth import Principals, bearer_token
from postmeter.api.committer import Committer
from postmeter.api.idempotency import REPLAYED_HEADER, fingerprint
from postmeter.api.logs import ROUTE
from postmeter.api.problems import MEDIA_TYPE
from postmeter.api.routes.charges import ChargeIn, ask_of
from postmeter.domain.errors import PostmeterError
from postmeter.domain.idempotency import check_key

PATH = "/v1/charges"
MAX_BODY = 4096  # bytes; a larger body (never a charge's) goes the route's way
_JSON = b"application/json"
_REPLAYED = (REPLAYED_HEADER.lower().encode(), b"true")


class ChargeFastPath:
    """ASGI middleware: books the charges it can, passes every other request on."""

    def __init__(self, app: ASGIApp, *, principals: Principals, committer: Committer) -> None:
        self.app = app
        self.principals = principals
        self.committer = committer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        body = await _small_body(headers, receive)
        if body is None or not await self._booked(scope, headers, body, send):
            await self.app(scope, _again(receive, body), send)

    async def _booked(
        self, scope: Scope, headers: dict[bytes, bytes], body: bytes, send: Send
    ) -> bool:
        """Book the charge and answer it; False, having sent nothing, when the route must."""
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        who = self.principals.get(
            bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
        )
        key = headers.get(b"idempotency-key", b"").decode("latin-1")
        if content_type != _JSON or who is None or not _accepted(key):
            return False
        try:
            charge = ChargeIn.model_validate(json.loads(body))  # as the route's body is
        except (ValueError, ValidationError):  # not JSON, or not a charge: the route says why
            return False
        fp = fingerprint({"op": "charge", **charge.model_dump()})
        scope[ROUTE] = PATH
        status, text, replayed = await self.committer.charge(who, key, fp, ask_of(charge))
        await _answer(send, status, text.encode(), replayed)
        return True


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by lower-case name; a repeated one is the route's to judge."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found[name] = b"" if name in found else value
    return found


async def _small_body(headers: dict[bytes, bytes], receive: Receive) -> bytes | None:
    """The whole body, when it says its length and that is small; else None, nothing read."""
    length = headers.get(b"content-length", b"")
    if not length.isdigit() or int(length) > MAX_BODY or b"transfer-encoding" in headers:
        return None
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left: the route sees it leave too
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _again(receive: Receive, body: bytes | None) -> Receive:
    """``receive`` for the route: the body already read first, then the rest as it comes."""
    if body is None:
        return receive
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _accepted(key: str) -> bool:
    if not key or len(key) > 200:
        return False
    try:
        check_key(key)
    except PostmeterError:
        return False
    return True


async def _answer(send: Send, status: int, body: bytes, replayed: bool) -> None:
    """As the route's ``Response`` sends it, header for header."""
    media = MEDIA_TYPE.encode() if status >= 400 else _JSON
    headers = [_REPLAYED] if replayed else []
    headers += [(b"content-length", str(len(body)).encode()), (b"content-type", media)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
