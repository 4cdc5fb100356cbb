"""Reservations: credits held for a scheduled send, then captured or released."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

import postmeter as pm
from postmeter.api import schemas, views
from postmeter.api.amounts import Credits, to_steps
from postmeter.api.auth import Ctx, Reader, check_sees
from postmeter.api.deps import Change, ChangeDep, Units
from postmeter.api.problems import PROBLEMS
from postmeter.api.schemas import answers
from postmeter.service import reservations

router = APIRouter(prefix="/v1", tags=["reservations"], responses=PROBLEMS)


class ReservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: Annotated[str, Field(min_length=1, max_length=64)]
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    credits: Credits
    deadline_at: AwareDatetime


class CaptureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credits: Credits


@router.post(
    "/reservations",
    status_code=201,
    summary="Hold credits for a scheduled send",
    responses=answers(201, schemas.ReservationOut),
)
def create_reservation(body: ReservationIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(body.account)
        unit = change.units.get(body.unit)
        done = pm.reserve(
            change.ctx,
            change.who.actor,
            change.key,
            body.account,
            body.unit,
            to_steps(body.credits, unit),
            body.deadline_at,
        )
        return 201, views.reservation(done, unit)

    return change.run({"op": "reserve", **body.model_dump(mode="json")}, work)


@router.get(
    "/reservations/{reservation_id}",
    summary="One reservation",
    responses=answers(200, schemas.ReservationOut),
)
def get_reservation(reservation_id: int, ctx: Ctx, who: Reader, cache: Units) -> dict[str, Any]:
    found = _visible(ctx, who, reservation_id)
    return views.reservation(found, cache.get(found.unit))


@router.post(
    "/reservations/{reservation_id}/capture",
    summary="The send went out: spend it",
    responses=answers(200, schemas.ReservationOut),
)
def capture(reservation_id: int, body: CaptureIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(_owned(change, reservation_id).unit)
        done = pm.capture(
            change.ctx,
            change.who.actor,
            change.key,
            reservation_id,
            to_steps(body.credits, unit, allow_zero=True),
        )
        return 200, views.reservation(done, unit)

    return change.run({"op": "capture", "id": reservation_id, **body.model_dump()}, work)


@router.post(
    "/reservations/{reservation_id}/release",
    summary="The send was cancelled",
    responses=answers(200, schemas.ReservationOut),
)
def release(reservation_id: int, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(_owned(change, reservation_id).unit)
        done = pm.release(change.ctx, change.who.actor, change.key, reservation_id)
        return 200, views.reservation(done, unit)

    return change.run({"op": "release", "id": reservation_id}, work)


def _owned(change: Change, reservation_id: int) -> pm.Reservation:
    return _visible(change.ctx, change.who, reservation_id)


def _visible(ctx: Any, who: Any, reservation_id: int) -> pm.Reservation:
    found = reservations.get_reservation(ctx, reservation_id)
    try:
        check_sees(ctx, who, found.account)
    except pm.NotFound:
        raise pm.NotFound(f"no reservation {reservation_id}", reservation=reservation_id) from None
    return found
