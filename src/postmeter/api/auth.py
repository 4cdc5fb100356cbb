"""Who is asking, and what they may see: API keys, roles, and the tree an account key sees.

Anything outside the caller's tree answers 404, exactly as if it did not exist, so a key cannot
learn which references other tenants use.
"""

from __future__ import annotations

import hashlib
from threading import Lock
from typing import Annotated

from fastapi import Depends, Header, Request

from postmeter.api.problems import ApiError
from postmeter.domain.errors import NotFound
from postmeter.service import accounts
from postmeter.service.context import Context
from postmeter.service.keys import Principal, authenticate


# The dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` dependency in a
# worker thread, a hop each on every request. ``principal`` reads the database: it stays ``def``.
async def context(request: Request) -> Context:
    ctx = request.app.state.ctx
    assert isinstance(ctx, Context)
    return ctx


Ctx = Annotated[Context, Depends(context)]


Authorization = Annotated[str | None, Header(include_in_schema=False)]


def principal(request: Request, ctx: Ctx, authorization: Authorization = None) -> Principal:
    if not authorization:
        raise ApiError(401, "unauthenticated", "send an API key: Authorization: Bearer pm_...")
    token = bearer_token(authorization)
    found = authenticate(ctx, token)
    if found is None:
        raise unknown_key()
    principals: Principals = request.app.state.principals
    principals.put(token, found)
    return found


def bearer_token(authorization: str) -> str:
    """The key in an ``Authorization: Bearer <key>`` header value; "" for another scheme."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def unknown_key() -> ApiError:
    """The refusal of a key that is unknown, malformed or revoked."""
    return ApiError(401, "unauthenticated", "the API key is unknown, malformed or revoked")


class Principals:
    """The principals of keys authenticated lately, by a digest of the whole key, so that a
    charge may skip the key's read (api/fastpath.py). Never trusted alone: every charge is
    booked in a group whose first read asks whether any of its keys was revoked since
    (api/committer.py). Read-only keys, which cannot charge, are not kept."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._known: dict[bytes, Principal] = {}
        self._lock = Lock()

    def get(self, token: str) -> Principal | None:
        return self._known.get(_digest(token))

    def put(self, token: str, who: Principal) -> None:
        if who.read_only:
            return
        with self._lock:
            if len(self._known) >= self._size:
                self._known.clear()  # rare, and harmless: a key's next request reads it again
            self._known[_digest(token)] = who

    def forget(self, prefix: str) -> None:
        """Forget the key ``prefix`` (found revoked)."""
        with self._lock:
            for digest in [d for d, who in self._known.items() if who.prefix == prefix]:
                del self._known[digest]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def writer(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if who.read_only:
        raise ApiError(403, "read_only_key", "this API key may read but not change anything")
    return who


async def operator(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.is_operator:
        raise ApiError(403, "operator_only", "only an operator key may do this")
    return who


async def operator_writer(who: Annotated[Principal, Depends(operator)]) -> Principal:
    return await writer(who)


Reader = Annotated[Principal, Depends(principal)]
Writer = Annotated[Principal, Depends(writer)]
Operator = Annotated[Principal, Depends(operator)]
OperatorWriter = Annotated[Principal, Depends(operator_writer)]


def check_sees(ctx: Context, who: Principal, ref: str) -> None:
    """NotFound unless the account ``ref`` is in the caller's tree."""
    if who.is_operator:
        return
    try:
        chain = accounts.lineage(ctx, ref)
    except NotFound:
        raise NotFound(f"no account {ref!r}", account=ref) from None
    if who.account_id not in chain:
        raise NotFound(f"no account {ref!r}", account=ref)
