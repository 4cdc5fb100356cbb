"""Accounts: the operator's customers and, below them, child accounts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import postmeter as pm
from postmeter.api import cursors, schemas, views
from postmeter.api.amounts import Credits, to_steps
from postmeter.api.auth import Ctx, Reader, check_sees
from postmeter.api.deps import ChangeDep, OperatorChangeDep
from postmeter.api.problems import PROBLEMS, ApiError
from postmeter.api.schemas import answers
from postmeter.domain.amounts import format_credits
from postmeter.domain.money import exponent, parse_price
from postmeter.service import accounts

router = APIRouter(prefix="/v1", tags=["accounts"], responses=PROBLEMS)

Text = Annotated[str, Field(min_length=1, max_length=200)]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: Annotated[str, Field(min_length=1, max_length=64)]
    name: Text
    email: Annotated[str, Field(min_length=3, max_length=254)]
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    parent: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "suspended", "blocked", "closed"]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class PaygIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Annotated[str, Field(min_length=1, max_length=32)]
    price: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="Price per `per` credits, a decimal in the currency; null: switch off."
    )
    per: Credits = Field(1, description="How many credits the price buys.")
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "EUR"


@router.post(
    "/accounts",
    status_code=201,
    summary="Open an account",
    responses=answers(201, schemas.AccountOut),
)
def create_account(body: AccountIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        if not change.who.is_operator:
            # An account key opens child accounts inside its own tree only.
            if body.parent is None:
                raise ApiError(403, "operator_only", "only an operator opens top-level accounts")
            change.sees(body.parent)
        made = pm.create_account(
            change.ctx,
            change.who.actor,
            change.key,
            body.ref,
            body.name,
            body.email,
            body.timezone,
            body.parent,
        )
        return 201, views.account(made)

    return change.run({"op": "account.create", **body.model_dump()}, work)


@router.get(
    "/accounts", summary="List accounts, by cursor", responses=answers(200, schemas.AccountPage)
)
def list_accounts(
    ctx: Ctx,
    who: Reader,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    page, last = accounts.page_accounts(
        ctx,
        after_id=cursors.decode("a", cursor),
        limit=limit,
        within=None if who.is_operator else who.account_id,
    )
    return {
        "items": [views.account(a) for a in page],
        "next_cursor": None if last is None else cursors.encode("a", last),
    }


@router.get("/accounts/{ref}", summary="One account", responses=answers(200, schemas.AccountOut))
def get_account(ref: str, ctx: Ctx, who: Reader) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    return views.account(accounts.get_account(ctx, ref))


@router.post(
    "/accounts/{ref}/status",
    summary="Suspend, block, close or reactivate",
    responses=answers(200, schemas.AccountOut),
)
def set_status(ref: str, body: StatusIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        done = pm.set_status(
            change.ctx, change.who.actor, change.key, ref, body.status, body.reason
        )
        return 200, views.account(done)

    return change.run({"op": "account.status", "ref": ref, **body.model_dump()}, work)


@router.put(
    "/accounts/{ref}/payg",
    summary="Pay-as-you-go price for a unit, or off",
    responses=answers(200, schemas.PaygOut),
)
def set_payg(ref: str, body: PaygIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(body.unit)
        price = terms = None
        if body.price is not None:
            minor, per = parse_price(body.price, body.currency), to_steps(body.per, unit)
            price = (minor, per, body.currency)
            terms = {
                "price": format_credits(minor, exponent(body.currency)),
                "per": unit.format(per),
                "currency": body.currency,
            }
        pm.set_payg(change.ctx, change.who.actor, change.key, ref, body.unit, price)
        return 200, {"account": ref, "unit": body.unit, "payg": terms}

    return change.run({"op": "account.payg", "ref": ref, **body.model_dump()}, work)
