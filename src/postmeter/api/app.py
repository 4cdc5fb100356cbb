"""The application factory: routes under ``/v1``, error mapping, metrics, and tick in the
background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

import postmeter as pm
from postmeter.api import logs, problems
from postmeter.api.auth import Principals
from postmeter.api.committer import Committer
from postmeter.api.fastpath import ChargeFastPath
from postmeter.api.metrics import Metrics
from postmeter.api.routes import (
    accounts,
    admin,
    campaigns,
    catalogue,
    charges,
    credits,
    health,
    keys,
    rate_cards,
    rating,
    reports,
    resellers,
    reservations,
    senders,
)
from postmeter.api.units import UnitCache
from postmeter.service.context import Context

logger = logging.getLogger("postmeter.api")


def create_app(ctx: Context, *, tick_interval_s: float | None = 5.0) -> FastAPI:
    """The API over ``ctx``; ``tick_interval_s`` None runs no background tick (tests)."""
    metrics = Metrics()
    units = UnitCache(ctx)
    principals = Principals()
    committer = Committer(ctx, units, principals)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if tick_interval_s is not None:
            task = asyncio.create_task(_tick_forever(ctx, metrics, tick_interval_s))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.to_thread(committer.close)

    app = FastAPI(
        title="postmeter",
        version=_version(),
        summary="Prepaid credits, quotas and allocations for e-mail and SMS sending platforms.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.units = units
    app.state.metrics = metrics
    app.state.principals = principals
    app.state.committer = committer
    app.state.scale_of = lambda code: units.get(code).scale
    app.add_exception_handler(pm.PostmeterError, problems.on_postmeter_error)
    app.add_exception_handler(RequestValidationError, problems.on_validation_error)
    app.add_exception_handler(HTTPException, problems.on_http_error)
    app.add_middleware(ChargeFastPath, principals=principals, committer=committer)
    app.add_middleware(logs.AccessLog, metrics=metrics)  # added last: it wraps the fast path
    app.include_router(health.router)
    routers = (charges, accounts, catalogue, credits, reservations, reports, keys, admin)
    for module in (*routers, senders, resellers, rating, rate_cards, campaigns):
        app.include_router(module.router)
    return app


async def _tick_forever(ctx: Context, metrics: Metrics, interval_s: float) -> None:
    while True:
        try:
            await asyncio.to_thread(pm.tick, ctx)
            metrics.ticked()
        except Exception:  # keep ticking: one bad event must not stop renewals for everyone
            logger.exception("tick failed")
        await asyncio.sleep(interval_s)


def _version() -> str:
    from importlib.metadata import version

    return version("postmeter")
