"""Who is asking, and what they may see: API keys, roles, and the tree an account key sees.

Anything outside the caller's tree answers 404, exactly as if it did not exist, so a key cannot
learn which references other tenants use.
"""

from __future__ import annotations

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


def principal(
    ctx: Ctx,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    if not authorization:
        raise ApiError(401, "unauthenticated", "send an API key: Authorization: Bearer pm_...")
    scheme, _, token = authorization.partition(" ")
    found = authenticate(ctx, token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise ApiError(401, "unauthenticated", "the API key is unknown, malformed or revoked")
    return found


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
