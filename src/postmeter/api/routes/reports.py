"""Reading the books: balance summaries and the journal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from postmeter.api import cursors, schemas, views
from postmeter.api.auth import Ctx, Reader, check_sees
from postmeter.api.deps import Units
from postmeter.api.problems import PROBLEMS, ApiError
from postmeter.api.schemas import answers
from postmeter.service import reports

router = APIRouter(prefix="/v1", tags=["reports"], responses=PROBLEMS)


@router.get(
    "/accounts/{ref}/balances/{unit}",
    summary="Balance, lots and plan periods",
    responses=answers(200, schemas.SummaryOut),
)
def get_balance(ref: str, unit: str, ctx: Ctx, who: Reader, cache: Units) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    return views.summary(reports.summary(ctx, ref, unit), cache.get(unit))


@router.get(
    "/journal",
    summary="Journal entries, filtered, by cursor",
    responses=answers(200, schemas.JournalPage),
)
def get_journal(
    ctx: Ctx,
    who: Reader,
    cache: Units,
    account: Annotated[str | None, Query(max_length=64)] = None,
    unit: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if not who.is_operator:
        if account is None:
            raise ApiError(422, "invalid_input", "an account key names the account to read")
        check_sees(ctx, who, account)
    entries = reports.journal(
        ctx,
        account=account,
        unit=unit,
        kind=kind,
        since=since,
        until=until,
        after_seq=cursors.decode("s", cursor),
        limit=limit,
    )
    return {
        "items": [views.entry(e, cache.get(e.unit)) for e in entries],
        "next_cursor": cursors.encode("s", entries[-1].seq) if len(entries) == limit else None,
    }
