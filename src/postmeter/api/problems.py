"""Errors as problem+json (RFC 9457), each with the stable ``code`` of its domain error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from postmeter.domain.amounts import format_credits
from postmeter.domain.errors import (
    AccountInactive,
    BooksOutOfBalance,
    Conflict,
    InsufficientCredits,
    InvalidInput,
    NotFound,
    PostmeterError,
    Refused,
)

MEDIA_TYPE = "application/problem+json"

# Most specific first: the first class an error is an instance of gives its status.
_STATUS: tuple[tuple[type[PostmeterError], int], ...] = (
    (InsufficientCredits, 402),
    (AccountInactive, 403),
    (Refused, 403),
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (BooksOutOfBalance, 500),
)


class Problem(BaseModel):
    """An error, as RFC 9457 problem details, with postmeter's stable ``code``; details of the
    error (``shortfall``, ``account``, ...) come as further members."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


_PROBLEM_SCHEMA = {"schema": {"$ref": "#/components/schemas/Problem"}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text, "content": {MEDIA_TYPE: _PROBLEM_SCHEMA}}
    for status, text in (
        (400, "A required header is missing (Idempotency-Key)"),
        (401, "No API key, or an unknown, malformed or revoked one"),
        (402, "Not enough credits: the problem names the shortfall"),
        (403, "The key may not do this (operator-only, read-only), or the account is inactive"),
        (404, "No such thing in the caller's tree"),
        (409, "A conflict: a reused Idempotency-Key, a taken name, a finished reservation"),
        (422, "Invalid input"),
    )
}


class ApiError(PostmeterError):
    """An error of the HTTP layer itself (authentication, headers), with its status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def status_of(exc: PostmeterError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return next(status for cls, status in _STATUS if isinstance(exc, cls))


def problem(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"https://postmeter.dev/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


# Details that are amounts, in integer steps of the error's ``unit``: shown as decimals.
_AMOUNTS = ("shortfall", "available", "room")


def from_error(
    exc: PostmeterError, scale_of: Callable[[str], int] | None = None
) -> tuple[int, dict[str, Any]]:
    status = status_of(exc)
    details = _json_safe(exc.details)
    unit = details.get("unit")
    if scale_of is not None and isinstance(unit, str) and any(n in details for n in _AMOUNTS):
        try:
            scale = scale_of(unit)
        except NotFound:
            scale = None  # an unknown unit: nothing to format
        for name in _AMOUNTS:
            if scale is not None and isinstance(details.get(name), int):
                details[name] = format_credits(details[name], scale)
    return status, problem(status, exc.code, exc.message, **details)


def response(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


async def on_postmeter_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PostmeterError)
    return response(*from_error(exc, request.app.state.scale_of))


async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    detail = f"{'.'.join(first['loc'])}: {first['msg']}" if first["loc"] else str(first["msg"])
    return response(422, problem(422, "invalid_input", detail, errors=errors))


async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return response(exc.status_code, problem(exc.status_code, code, str(exc.detail)))


def _json_safe(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v if _is_json(v) else str(v) for k, v in details.items() if k not in _RESERVED}


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


_RESERVED = frozenset({"type", "title", "status", "detail", "code"})
