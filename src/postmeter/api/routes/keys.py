"""API keys: minted (secret shown once), listed, revoked."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from postmeter.api import schemas, views
from postmeter.api.auth import Ctx, Reader
from postmeter.api.deps import ChangeDep
from postmeter.api.problems import PROBLEMS, ApiError
from postmeter.api.schemas import answers
from postmeter.domain.errors import NotFound
from postmeter.service import keys

router = APIRouter(prefix="/v1", tags=["keys"], responses=PROBLEMS)


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Literal["operator", "account"]
    account: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    read_only: StrictBool = False


@router.post(
    "/keys",
    status_code=201,
    summary="Mint an API key (its secret is shown once)",
    responses=answers(201, schemas.NewKeyOut),
)
def create_key(body: KeyIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        if not change.who.is_operator:
            if body.role != "account" or body.account is None:
                raise ApiError(403, "operator_only", "an account key mints account keys only")
            change.sees(body.account)
        made = keys.create_key(
            change.ctx,
            change.who.actor,
            change.key,
            body.name,
            role=body.role,
            account=body.account,
            read_only=body.read_only,
        )
        return 201, {**views.key(made.info), "secret": made.secret}

    # The secret is shown once: a replay of this request answers with "secret": null.
    return change.run(
        {"op": "key.create", **body.model_dump()}, work, lambda made: {**made, "secret": None}
    )


@router.get("/keys", summary="API keys the caller may see", responses=answers(200, schemas.KeyList))
def list_keys(ctx: Ctx, who: Reader) -> dict[str, Any]:
    found = keys.list_keys(ctx) if who.is_operator else keys.list_keys(ctx, who.account_ref)
    return {"items": [views.key(k) for k in found]}


@router.post(
    "/keys/{prefix}/revoke",
    summary="Revoke an API key at once",
    responses=answers(200, schemas.KeyOut),
)
def revoke_key(prefix: str, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        if not change.who.is_operator:
            mine = {k.prefix for k in keys.list_keys(change.ctx, change.who.account_ref)}
            if prefix not in mine:
                raise NotFound(f"no API key {prefix}", key=prefix)
        done = keys.revoke_key(change.ctx, change.who.actor, change.key, prefix)
        return 200, views.key(done)

    return change.run({"op": "key.revoke", "prefix": prefix}, work)
