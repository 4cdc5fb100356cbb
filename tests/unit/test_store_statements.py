"""The hot path's hand-made parts: literal partial-index conditions, hand-built result JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from postmeter.service.charging import ChargeRequest, _Pending
from postmeter.store import uow

DIALECTS: list[Dialect] = [sqlite.dialect(), postgresql.dialect()]  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("dialect", DIALECTS, ids=["sqlite", "postgresql"])
@pytest.mark.parametrize("statement", ["_CHARGE_LOAD", "_LIVE_LOTS"])
def test_live_lot_condition_is_literal_so_the_partial_index_applies(
    statement: str, dialect: Dialect
) -> None:
    sql = str(getattr(uow, statement).compile(dialect=dialect))
    assert "lots.remaining > 0" in sql


@pytest.mark.parametrize(
    "result",
    [
        {
            "account": "acme",
            "unit": "email",
            "credits": 5,
            "drawn": [[1, 5]],
            "overage": 0,
            "balance": 10,
            "available": 7,
        },
        {
            "account": 'we"ird\\ref',
            "unit": "sms",
            "credits": 2**63 - 1,
            "drawn": [],
            "overage": 2**63 - 1,
            "balance": 0,
            "available": 0,
        },
        {
            "account": "a",
            "unit": "u",
            "credits": 3,
            "drawn": [[1, 1], [2, 2]],
            "overage": 0,
            "balance": 0,
            "available": -4,
        },
    ],
)
def test_a_charge_result_is_stored_exactly_as_json_would_write_it(result: dict[str, Any]) -> None:
    request = ChargeRequest("key", result["account"], result["unit"], result["credits"])
    takes = tuple((lot, n) for lot, n in result["drawn"])
    books: Any = None  # not read when the result is written
    pending = _Pending(
        0,
        request,
        "fp",
        books,
        None,
        takes,
        result["overage"],
        result["balance"],
        result["available"],
    )
    assert pending.result() == result
    assert pending.result_json() == json.dumps(result, separators=(",", ":"))
