"""Charging sends: one, or a batch in one transaction."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import postmeter as pm
from postmeter.api import schemas, views
from postmeter.api.amounts import Credits, to_steps
from postmeter.api.auth import Writer
from postmeter.api.committer import ChargeAsk, Committer
from postmeter.api.deps import ChangeDep, Key
from postmeter.api.idempotency import answer, fingerprint
from postmeter.api.problems import PROBLEMS, from_error
from postmeter.api.schemas import answers
from postmeter.domain.errors import PostmeterError

router = APIRouter(prefix="/v1", tags=["charges"], responses=PROBLEMS)

Ref = Annotated[str, Field(min_length=1, max_length=64)]
UnitCode = Annotated[str, Field(min_length=1, max_length=32)]


class ChargeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: Ref
    unit: UnitCode
    credits: Credits
    reference: Annotated[str, Field(max_length=200)] | None = None
    sender: Annotated[str, Field(min_length=1, max_length=253)] | None = Field(
        None, description="The sender (domain, list, sub-account) the send goes out from."
    )


class BatchItemIn(ChargeIn):
    key: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="The item's own idempotency key; default: '<Idempotency-Key>:<index>'."
    )


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[BatchItemIn], Field(min_length=1, max_length=10_000)]


@router.post(
    "/charges",
    status_code=201,
    summary="Charge one send",
    responses=answers(201, schemas.ChargeOut),
)
async def create_charge(body: ChargeIn, who: Writer, key: Key, request: Request) -> Response:
    # Booked with the charges that arrive with it, in one transaction (api/committer.py); the
    # answer comes once that transaction is durable, and is kept for replays as any change's is.
    committer: Committer = request.app.state.committer
    fp = fingerprint({"op": "charge", **body.model_dump()})
    return answer(*await committer.charge(who, key, fp, ask_of(body)))


def ask_of(body: ChargeIn) -> ChargeAsk:
    return ChargeAsk(body.account, body.unit, body.credits, body.reference, body.sender)


@router.post(
    "/charges/batch",
    status_code=200,
    summary="Charge many sends in one transaction",
    responses=answers(200, schemas.BatchOut),
)
def create_charge_batch(body: BatchIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        for ref in {item.account for item in body.items}:
            change.sees(ref)
        results: list[dict[str, Any] | None] = [None] * len(body.items)
        requests: list[tuple[int, pm.ChargeRequest]] = []
        for i, item in enumerate(body.items):
            try:
                unit = change.units.get(item.unit)
                steps = to_steps(item.credits, unit)
            except PostmeterError as exc:
                results[i] = _failed(exc, change)
                continue
            key = item.key or f"{change.key}:{i}"
            request = pm.ChargeRequest(
                key, item.account, item.unit, steps, item.reference, item.sender
            )
            requests.append((i, request))
        outcomes = pm.charge_batch(change.ctx, change.who.actor, [r for _, r in requests])
        for (i, _), outcome in zip(requests, outcomes, strict=True):
            if outcome.charge is not None:
                unit = change.units.get(outcome.charge.unit)
                results[i] = {"ok": True, "charge": views.charge(outcome.charge, unit)}
            else:
                assert outcome.error is not None
                results[i] = _failed(outcome.error, change)
        booked = sum(1 for r in results if r and r["ok"])
        return 200, {"booked": booked, "failed": len(results) - booked, "items": results}

    return change.run({"op": "charge_batch", **body.model_dump()}, work)


def _failed(exc: PostmeterError, change: Any) -> dict[str, Any]:
    status, problem = from_error(exc, lambda u: change.units.get(u).scale)
    return {"ok": False, "status": status, "problem": problem}
