"""JSON logs, one line per request, with a request id; never a header value or a body."""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postmeter.api.metrics import Metrics

logger = logging.getLogger("postmeter.api")
REQUEST_ID = "X-Request-ID"
# The scope's key for the route a request took when no router matched it (api/fastpath.py).
ROUTE = "postmeter.route"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname.lower(), "logger": record.name, "msg": record.msg}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class AccessLog:
    """ASGI middleware: times each request, counts it in the metrics, logs it, and answers its
    request id. Plain ASGI: Starlette's ``BaseHTTPMiddleware`` runs the app in a task of its own
    and streams the answer through a queue, which cost more than the rest of a charge's route."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        header = (_REQUEST_ID_HEADER, request_id.encode())
        status = 500  # unless the app answers: an exception is answered 500 further out
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, status, time.perf_counter() - started, request_id)

    def _done(self, scope: Scope, status: int, elapsed: float, request_id: str) -> None:
        path = scope.get(ROUTE) or getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        self.metrics.latency.labels(method, path, str(status)).observe(elapsed)
        if path in ("/v1/charges", "/v1/charges/batch"):
            self.metrics.charges.labels(_result(status)).inc()
        logger.info(
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "method": method,
                    "route": path,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                }
            },
        )


_REQUEST_ID_HEADER = REQUEST_ID.lower().encode()


def _request_id(scope: Scope) -> str:
    """The caller's request id when it is a sane one, else a new one."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == _REQUEST_ID_HEADER:
            given = value.decode("latin-1")
            if given.isalnum() and len(given) <= 64:
                return given
            break
    return uuid.uuid4().hex


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
