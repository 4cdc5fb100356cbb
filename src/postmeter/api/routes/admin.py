"""Operator chores over HTTP: run tick now, verify the books."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

import postmeter as pm
from postmeter.api import schemas
from postmeter.api.auth import Ctx, Operator, OperatorWriter
from postmeter.api.deps import Units
from postmeter.api.problems import PROBLEMS
from postmeter.api.schemas import answers

router = APIRouter(prefix="/v1", tags=["admin"], responses=PROBLEMS)


@router.post(
    "/tick",
    summary="Book what is due now (renewals, expiries, deadlines)",
    responses=answers(200, schemas.TickOut),
)
def run_tick(ctx: Ctx, _who: OperatorWriter, cache: Units) -> dict[str, Any]:
    # No Idempotency-Key: tick is idempotent by construction (each event has its own key).
    done = pm.tick(ctx)
    return {
        "renewals": done.renewals,
        "expiries": done.expiries,
        "timeouts": done.timeouts,
        "expired": {code: cache.get(code).format(n) for code, n in done.expired.items()},
        "events": done.events,
    }


@router.get(
    "/verify",
    summary="Check every invariant of the books",
    responses=answers(200, schemas.VerifyOut),
)
def run_verify(ctx: Ctx, _who: Operator) -> dict[str, Any]:
    return {"ok": True, **asdict(pm.verify(ctx))}
