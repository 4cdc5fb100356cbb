"""schemathesis against the app's own OpenAPI document, on SQLite and on PostgreSQL.

Every operation of ``/openapi.json`` gets generated requests, valid (positive) and invalid
(negative), sent through the real app with an operator key and a fresh Idempotency-Key each. Two
checks: no server error (``not_a_server_error``) and every response matches the schema
(``response_schema_conformance``). Derandomized and bounded by ``EXAMPLES``.

The app raises its server errors into the test (``raise_server_exceptions``), so each finding
carries the exception behind it. Findings of a bug already pinned by a precise xfail test in
test_api_routes.py are recognised by ``KNOWN_BUGS``; anything else fails the test outright.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.exc import DBAPIError, StatementError

import postmeter as pm
from postmeter.api.app import create_app
from tests.support.api import PROBLEM, bearer, mint

BASE_URL = "http://testserver"
# Examples per operation and generation mode: about 1,800 requests per database.
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 40, schemathesis.GenerationMode.NEGATIVE: 20}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and the driver error under a SQLAlchemy error."""
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        if isinstance(seen, DBAPIError) and isinstance(seen.orig, BaseException):
            yield seen.orig
        if isinstance(seen, StatementError) and isinstance(seen.orig, BaseException):
            yield seen.orig
        seen = seen.__cause__ or seen.__context__


def _unknown_unit(exc: BaseException) -> bool:
    return isinstance(exc, pm.NotFound) and "unit" in exc.details


def _out_of_range(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, OverflowError) or "out of range" in text or "too large" in text


def _nul_character(exc: BaseException) -> bool:
    return "NUL (0x00)" in str(exc)


# A server error of a bug pinned elsewhere: test name -> how its exception looks.
KNOWN_BUGS: dict[str, Callable[[BaseException], bool]] = {
    "test_an_unknown_unit_is_a_404": _unknown_unit,
    "test_an_id_beyond_any_stored_id_is_a_404 / test_an_accounts_cursor_beyond_any_id_is_refused "
    "/ test_an_instant_out_of_range_is_a_422": _out_of_range,
    "test_text_with_a_nul_character_is_refused_not_a_500": _nul_character,
}


@dataclass(frozen=True, slots=True)
class Finding:
    operation: str
    what: str  # the exception or the failed checks, in one line
    known: str | None  # the xfail test that pins it, if any

    def __str__(self) -> str:
        return f"{self.operation}: {self.what}" + (f"  [known: {self.known}]" if self.known else "")


def classify(exc: BaseException) -> str | None:
    for name, looks_like in KNOWN_BUGS.items():
        if any(looks_like(link) for link in _chain(exc)):
            return name
    return None


class KnownBugsFound(AssertionError):
    """schemathesis found only server errors of bugs pinned by xfail tests."""


def fuzz(client: TestClient, secret: str) -> list[Finding]:
    """Run every operation of the app's own document; return what failed, one per kind."""
    document = client.get("/openapi.json")
    assert document.status_code == 200, document.text
    schema = schemathesis.openapi.from_dict(document.json())
    keys = (f"fuzz-{i}" for i in itertools.count())
    found: dict[tuple[str, str], Finding] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document is not valid OpenAPI: {result.err()}"
        operation = result.ok()
        for mode, examples in EXAMPLES.items():

            @settings(
                max_examples=examples,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                headers = {**bearer(secret), "Idempotency-Key": next(keys)}
                finding = send(client, case, headers)
                if finding is not None:
                    found.setdefault((finding.operation, finding.known or finding.what), finding)

            try:
                run()
            except Unsatisfiable:
                # Nothing to negate: the operation takes no parameters and no body.
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    return list(found.values())


def send(client: TestClient, case: Any, headers: dict[str, str]) -> Finding | None:
    """Send one generated case; a Finding if the app failed or the response broke the schema."""
    label = case.operation.label
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        body["content"] = kwargs["data"]
    try:
        response = client.request(
            kwargs["method"],
            kwargs["url"],
            headers=kwargs.get("headers"),
            params=kwargs.get("params"),
            **body,
        )
    except UnicodeEncodeError:
        return None  # a header the HTTP client itself cannot send: never reaches the app
    except Exception as exc:
        return Finding(label, f"500 from {type(exc).__name__}: {str(exc)[:160]}", classify(exc))
    try:
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance], headers=headers
        )
    except FailureGroup as failures:
        titles = sorted({failure.title for failure in failures.exceptions})
        return Finding(label, f"{response.status_code}: {'; '.join(titles)}", None)
    if response.status_code >= 400 and not is_problem(response):
        return Finding(label, f"{response.status_code} is not problem+json: {response.text}", None)
    return None


def is_problem(response: httpx2.Response) -> bool:
    """An RFC 9457 problem with the stable ``code`` this API adds."""
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        return False
    body = response.json()
    return (
        isinstance(body, dict)
        and body.get("status") == response.status_code
        and all(isinstance(body.get(field), str) for field in ("type", "title", "detail", "code"))
    )


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(ctx: pm.Context) -> None:
    secret = mint(ctx, "schemathesis")
    with TestClient(create_app(ctx, tick_interval_s=None), raise_server_exceptions=True) as client:
        findings = fuzz(client, secret)
    unknown = [f for f in findings if f.known is None]
    assert not unknown, "schemathesis found:\n" + "\n".join(map(str, findings))
    if findings:
        raise KnownBugsFound(
            "schemathesis found known bugs only:\n" + "\n".join(map(str, findings))
        )
    assert pm.verify(ctx).entries >= 0


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        if path.startswith("/v1/"):
            for method, operation in item.items():
                yield f"{method.upper()} {path}", operation


@pytest.fixture
def document(ctx: pm.Context) -> dict[str, Any]:
    with TestClient(create_app(ctx, tick_interval_s=None)) as client:
        found: dict[str, Any] = client.get("/openapi.json").json()
    return found


def test_the_document_describes_every_error_as_problem_json(document: dict[str, Any]) -> None:
    for label, operation in operations(document):
        responses = operation["responses"]
        expected = {"401", "403", "422"} | (
            {"400"} if "Idempotency-Key" in str(operation) else set()
        )
        assert expected <= responses.keys(), (label, sorted(responses))
        for status in expected:
            assert PROBLEM in responses[status].get("content", {}), (label, status)


def test_the_document_describes_every_success_body(document: dict[str, Any]) -> None:
    for label, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                schema = response["content"]["application/json"]["schema"]
                assert schema, (label, status)
