"""JSON logs, one line per request, with a request id; never a header value or a body."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from postmeter.api.metrics import Metrics

logger = logging.getLogger("postmeter.api")
REQUEST_ID = "X-Request-ID"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname.lower(), "logger": record.name, "msg": record.msg}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def access_log(
    metrics: Metrics,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get(REQUEST_ID, "")
        request_id = given if given.isalnum() and len(given) <= 64 else uuid.uuid4().hex
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.latency.labels(request.method, path, str(response.status_code)).observe(elapsed)
        if path in ("/v1/charges", "/v1/charges/batch"):
            metrics.charges.labels(_result(response.status_code)).inc()
        response.headers[REQUEST_ID] = request_id
        logger.info(
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "method": request.method,
                    "route": path,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 2),
                }
            },
        )
        return response

    return middleware


def _result(status: int) -> str:
    if status < 300:
        return "ok"
    return {402: "insufficient_credits", 409: "conflict"}.get(status, "refused")


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("postmeter")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
