"""The operator's catalogue: units, plans and packages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

import postmeter as pm
from postmeter.api import schemas, views
from postmeter.api.amounts import Credits, to_steps
from postmeter.api.auth import Ctx, Reader
from postmeter.api.deps import OperatorChangeDep, Units
from postmeter.api.problems import PROBLEMS
from postmeter.api.schemas import answers
from postmeter.domain.money import parse_price
from postmeter.service import catalogue, units

router = APIRouter(prefix="/v1", tags=["catalogue"], responses=PROBLEMS)

Code = Annotated[str, Field(min_length=1, max_length=32)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Price = Annotated[str, Field(max_length=40, description="A decimal in the currency: '49.90'.")]
Currency = Annotated[str, Field(min_length=3, max_length=3)]


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    scale: Annotated[StrictInt, Field(ge=0, le=9)]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extend_on_purchase: StrictBool | None = None
    signup_credits: Credits | None = None
    signup_days: Annotated[StrictInt, Field(ge=0, le=36_500)] | None = None


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    unit: Code
    credits: Credits
    period: Literal["days", "monthly"]
    period_days: Annotated[StrictInt, Field(ge=1, le=3660)] | None = None
    free: StrictBool = False
    seats: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 0  # 0: not a reseller plan
    dedicated_ips: Annotated[StrictInt, Field(ge=0, le=10_000)] = 0
    price: Price = "0"
    currency: Currency = "EUR"


class PackageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    unit: Code
    credits: Credits
    validity_months: Annotated[StrictInt, Field(ge=0, le=1200)] = 0
    validity_days: Annotated[StrictInt, Field(ge=0, le=36_500)] = 0
    price: Price
    currency: Currency = "EUR"


@router.get("/units", summary="Units of credit", responses=answers(200, schemas.UnitList))
def list_units(ctx: Ctx, _who: Reader) -> dict[str, Any]:
    return {"items": [_unit(u) for u in units.list_units(ctx)]}


@router.post(
    "/units", status_code=201, summary="Add a unit", responses=answers(201, schemas.UnitOut)
)
def create_unit(body: UnitIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        made = pm.create_unit(
            change.ctx, change.who.actor, change.key, body.code, body.name, body.scale
        )
        return 201, _unit(made)

    return change.run({"op": "unit.create", **body.model_dump()}, work)


@router.post(
    "/units/{code}/policy",
    summary="Set a unit's operator policies",
    responses=answers(200, schemas.UnitOut),
)
def set_policy(code: str, body: PolicyIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(code)
        signup = (
            None
            if body.signup_credits is None
            else to_steps(body.signup_credits, unit, allow_zero=True)
        )
        done = pm.set_policy(
            change.ctx,
            change.who.actor,
            change.key,
            code,
            extend_on_purchase=body.extend_on_purchase,
            signup_credits=signup,
            signup_days=body.signup_days,
        )
        change.units.forget(code)
        return 200, _unit(done)

    return change.run({"op": "unit.policy", "code": code, **body.model_dump()}, work)


@router.get(
    "/plans", summary="The plans of the catalogue", responses=answers(200, schemas.PlanList)
)
def list_plans(ctx: Ctx, _who: Reader, cache: Units) -> dict[str, Any]:
    return {"items": [views.plan(p, cache.get(p.unit)) for p in catalogue.list_plans(ctx)]}


@router.post(
    "/plans", status_code=201, summary="Add a plan", responses=answers(201, schemas.PlanOut)
)
def create_plan(body: PlanIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(body.unit)
        plan = pm.Plan(
            code=body.code,
            name=body.name,
            unit=body.unit,
            credits=to_steps(body.credits, unit),
            period_kind=body.period,
            period_days=body.period_days,
            free=body.free,
            seats=body.seats,
            dedicated_ips=body.dedicated_ips,
            price_minor=parse_price(body.price, body.currency),
            currency=body.currency,
        )
        made = pm.create_plan(change.ctx, change.who.actor, change.key, plan)
        return 201, views.plan(made, unit)

    return change.run({"op": "plan.create", **body.model_dump()}, work)


@router.get(
    "/packages",
    summary="The packages of the catalogue",
    responses=answers(200, schemas.PackageList),
)
def list_packages(
    ctx: Ctx, _who: Reader, cache: Units, unit: Annotated[str | None, Query(max_length=32)] = None
) -> dict[str, Any]:
    items = catalogue.list_packages(ctx, unit)
    return {"items": [views.package(p, cache.get(p.unit)) for p in items]}


@router.post(
    "/packages",
    status_code=201,
    summary="Add a package",
    responses=answers(201, schemas.PackageOut),
)
def create_package(body: PackageIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(body.unit)
        package = pm.Package(
            code=body.code,
            name=body.name,
            unit=body.unit,
            credits=to_steps(body.credits, unit),
            validity_months=body.validity_months,
            validity_days=body.validity_days,
            price_minor=parse_price(body.price, body.currency),
            currency=body.currency,
            active=True,
        )
        made = pm.create_package(change.ctx, change.who.actor, change.key, package)
        return 201, views.package(made, unit)

    return change.run({"op": "package.create", **body.model_dump()}, work)


def _unit(u: Any) -> dict[str, Any]:
    return {
        "code": u.code,
        "name": u.name,
        "scale": u.scale,
        "extend_on_purchase": u.extend_on_purchase,
        "signup_credits": u.format(u.signup_credits),
        "signup_days": u.signup_days,
    }
