"""Liveness, readiness and metrics: no key needed, nothing about any tenant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from postmeter.api.auth import Ctx
from postmeter.service.health import database_answers

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, Any]:
    return {"ok": True}


@router.get("/readyz", summary="The database answers")
def readyz(ctx: Ctx) -> Response:
    if not database_answers(ctx):
        return JSONResponse({"ok": False, "error": "database unreachable"}, status_code=503)
    return JSONResponse({"ok": True})


@router.get("/metrics", summary="Prometheus metrics")
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
