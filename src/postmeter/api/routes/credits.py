"""Credits in: grants and corrections (operator), package purchases and plan subscriptions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

import postmeter as pm
from postmeter.api import schemas, views
from postmeter.api.amounts import Credits, to_steps
from postmeter.api.auth import Ctx, Reader, check_sees
from postmeter.api.deps import ChangeDep, OperatorChangeDep
from postmeter.api.problems import PROBLEMS
from postmeter.api.schemas import answers
from postmeter.service import subscriptions

router = APIRouter(prefix="/v1", tags=["credits"], responses=PROBLEMS)

Code = Annotated[str, Field(min_length=1, max_length=64)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Code
    credits: Credits
    source: Literal["free", "adjustment"] = "free"
    expires_at: AwareDatetime | None = None
    reason: Reason


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Code
    credits: Credits
    reason: Reason


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package: Code


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Code
    anchor_day: Annotated[StrictInt, Field(ge=1, le=31)] | None = None


@router.post(
    "/accounts/{ref}/grants",
    status_code=201,
    summary="Give credits (operator)",
    responses=answers(201, schemas.GrantOut),
)
def create_grant(ref: str, body: GrantIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(body.unit)
        done = pm.grant(
            change.ctx,
            change.who.actor,
            change.key,
            ref,
            body.unit,
            to_steps(body.credits, unit),
            source=body.source,
            expires_at=body.expires_at,
            reason=body.reason,
        )
        return 201, views.grant(done, unit)

    return change.run({"op": "grant", "ref": ref, **body.model_dump(mode="json")}, work)


@router.post(
    "/accounts/{ref}/corrections",
    status_code=201,
    summary="Take credits back",
    responses=answers(201, schemas.GrantOut),
)
def create_correction(ref: str, body: CorrectionIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(body.unit)
        done = pm.correct_down(
            change.ctx,
            change.who.actor,
            change.key,
            ref,
            body.unit,
            to_steps(body.credits, unit),
            reason=body.reason,
        )
        return 201, views.grant(done, unit)

    return change.run({"op": "correct", "ref": ref, **body.model_dump()}, work)


@router.post(
    "/accounts/{ref}/purchases",
    status_code=201,
    summary="Buy a package",
    responses=answers(201, schemas.PurchaseOut),
)
def create_purchase(ref: str, body: PurchaseIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(ref)
        done = pm.buy(change.ctx, change.who.actor, change.key, ref, body.package)
        return 201, views.purchase(done, change.units.get(done.unit))

    return change.run({"op": "buy", "ref": ref, **body.model_dump()}, work)


@router.post(
    "/accounts/{ref}/subscriptions",
    status_code=201,
    summary="Subscribe to a plan",
    responses=answers(201, schemas.SubscriptionOut),
)
def create_subscription(ref: str, body: SubscriptionIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(ref)
        done = pm.subscribe(
            change.ctx, change.who.actor, change.key, ref, body.plan, anchor_day=body.anchor_day
        )
        return 201, asdict(done)

    return change.run({"op": "subscribe", "ref": ref, **body.model_dump()}, work)


@router.get(
    "/accounts/{ref}/subscriptions",
    summary="An account's subscriptions",
    responses=answers(200, schemas.SubscriptionList),
)
def list_subscriptions(ref: str, ctx: Ctx, who: Reader) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    return {"items": [asdict(s) for s in subscriptions.list_subscriptions(ctx, ref)]}


@router.post(
    "/subscriptions/{subscription_id}/cancel",
    summary="Stop renewing a subscription",
    responses=answers(200, schemas.SubscriptionOut),
)
def cancel_subscription(subscription_id: int, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        sub = subscriptions.get_subscription(change.ctx, subscription_id)
        try:
            change.sees(sub.account)
        except pm.NotFound:
            raise pm.NotFound(
                f"no subscription {subscription_id}", subscription=subscription_id
            ) from None
        done = subscriptions.cancel(change.ctx, change.who.actor, change.key, subscription_id)
        return 200, asdict(done)

    return change.run({"op": "subscription.cancel", "id": subscription_id}, work)
