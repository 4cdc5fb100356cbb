"""Child accounts: transfers to a child and take-backs, their history, the reseller's books
(A = B + C + D and its plan summary), and moving an account inside its tree.

An account key moves credits and accounts inside its own tree only: a child or a new parent it
cannot see answers 404 as if it did not exist. The operator sees every tree, so it is told why
instead (``outside_tree``, ``refused``), and nothing moves either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import postmeter as pm
from postmeter.api import cursors, schemas, views
from postmeter.api.amounts import Credits, to_steps
from postmeter.api.auth import Ctx, Reader, check_sees
from postmeter.api.deps import Change, ChangeDep, Units
from postmeter.api.problems import PROBLEMS
from postmeter.api.schemas import Amount, DrawnOut, Out, answers
from postmeter.domain.units import Unit
from postmeter.domain.validate import MAX_ID
from postmeter.service import resellers, transfers

router = APIRouter(prefix="/v1", tags=["child accounts"], responses=PROBLEMS)

Ref = Annotated[str, Field(min_length=1, max_length=64)]
Code = Annotated[str, Field(min_length=1, max_length=32)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    child: Ref = Field(description="A direct child of the account in the path.")
    unit: Code
    credits: Credits
    reason: Reason | None = None


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent: Ref = Field(description="The new parent, in the same tree, not below the account.")
    reason: Reason | None = None


class TransferOut(Out):
    """A transfer as booked: ``credits`` positive when added to the child, negative when taken
    back; ``drawn`` the giver's lots it came from."""

    txn_id: int
    parent: str
    child: str
    unit: str
    credits: Amount
    drawn: list[DrawnOut]
    lot_id: int
    parent_balance: Amount
    parent_available: Amount
    child_balance: Amount
    child_available: Amount
    replayed: bool


class TransferLine(Out):
    """One line of the transfer history: when, to which child, how much (+ added, - taken
    back), by whom."""

    id: int
    at: str
    child: str
    child_email: str
    child_name: str
    unit: str
    credits: Amount
    actor: str
    reason: str | None


class TransferPage(Out):
    items: list[TransferLine]
    next_cursor: str | None


class ResellerOut(Out):
    """A = B + C + D: the plan's credits this period; what the reseller can assign now; what
    its children hold of what it gave them, unused; what they used this period."""

    account: str
    unit: str
    plan: str
    plan_name: str
    a: Amount
    b: Amount
    c: Amount
    d: Amount
    users_created: int
    users_allowed: int
    dedicated_ips: int
    period_start_at: str
    renews_at: str


@router.post(
    "/accounts/{ref}/transfers",
    status_code=201,
    summary="Add credits to a child account (they never expire in the child)",
    responses=answers(201, TransferOut),
)
def create_transfer(ref: str, body: TransferIn, change: ChangeDep) -> Response:
    return _move_credits(change, "transfer", transfers.transfer, ref, body)


@router.post(
    "/accounts/{ref}/take-backs",
    status_code=201,
    summary="Take back credits a child was given and has neither spent nor reserved",
    responses=answers(201, TransferOut),
)
def create_take_back(ref: str, body: TransferIn, change: ChangeDep) -> Response:
    return _move_credits(change, "take_back", transfers.take_back, ref, body)


@router.get(
    "/accounts/{ref}/transfers",
    summary="The transfer history, oldest first, by cursor: date, child, amount, who",
    responses=answers(200, TransferPage),
)
def list_transfers(
    ref: str,
    ctx: Ctx,
    who: Reader,
    cache: Units,
    child: Annotated[str | None, Query(max_length=64)] = None,
    unit: Annotated[str | None, Query(max_length=32)] = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    if child is not None:
        check_sees(ctx, who, child)  # another tree's account is as unknown here as anywhere
    after = min(cursors.decode("tr", cursor), MAX_ID)  # ids are 32-bit: nothing lies beyond
    # One beyond the page tells whether another follows.
    found = transfers.transfer_history(
        ctx, ref, child=child, unit=unit, after_id=after, limit=limit + 1
    )
    page = found[:limit]
    return {
        "items": [_line(record, cache.get(record.unit)) for record in page],
        "next_cursor": cursors.encode("tr", page[-1].id) if len(found) > limit else None,
    }


@router.get(
    "/accounts/{ref}/reseller/{unit}",
    summary="A reseller's books, A = B + C + D, and its plan summary",
    responses=answers(200, ResellerOut),
)
def get_reseller(ref: str, unit: str, ctx: Ctx, who: Reader, cache: Units) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    view = resellers.reseller_books(ctx, ref, unit)
    f = cache.get(unit).format
    return {
        "account": view.account,
        "unit": view.unit,
        "plan": view.plan_code,
        "plan_name": view.plan,
        "a": f(view.a),
        "b": f(view.b),
        "c": f(view.c),
        "d": f(view.d),
        "users_created": view.users_created,
        "users_allowed": view.users_allowed,
        "dedicated_ips": view.dedicated_ips,
        "period_start_at": view.period_start_at,
        "renews_at": view.renews_at,
    }


@router.post(
    "/accounts/{ref}/move",
    summary="Move an account, and the accounts below it, under another parent of its tree",
    responses=answers(200, schemas.AccountOut),
)
def move_account(ref: str, body: MoveIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(ref)
        change.sees(body.parent)
        moved = pm.move_account(
            change.ctx, change.who.actor, change.key, ref, body.parent, reason=body.reason
        )
        return 200, views.account(moved)

    return change.run({"op": "account.move", "ref": ref, **body.model_dump()}, work)


def _move_credits(
    change: Change, op: str, move: Callable[..., transfers.Transfer], ref: str, body: TransferIn
) -> Response:
    """A transfer or a take-back between ``ref`` and its child ``body.child``."""

    def work() -> tuple[int, Any]:
        change.sees(ref)
        change.sees(body.child)
        unit = change.units.get(body.unit)
        done = move(
            change.ctx, change.who.actor, change.key, ref, body.child, body.unit,
            to_steps(body.credits, unit), reason=body.reason,
        )  # fmt: skip
        return 201, _transfer(done, unit)

    return change.run({"op": op, "ref": ref, **body.model_dump()}, work)


def _transfer(done: transfers.Transfer, unit: Unit) -> dict[str, Any]:
    f = unit.format
    return {
        "txn_id": done.txn_id,
        "parent": done.parent,
        "child": done.child,
        "unit": done.unit,
        "credits": f(done.credits),
        "drawn": [{"lot_id": lot, "credits": f(n)} for lot, n in done.drawn],
        "lot_id": done.lot_id,
        "parent_balance": f(done.parent_balance),
        "parent_available": f(done.parent_available),
        "child_balance": f(done.child_balance),
        "child_available": f(done.child_available),
        "replayed": done.replayed,
    }


def _line(record: transfers.TransferRecord, unit: Unit) -> dict[str, Any]:
    return {
        "id": record.id,
        "at": record.at,
        "child": record.child,
        "child_email": record.child_email,
        "child_name": record.child_name,
        "unit": record.unit,
        "credits": unit.format(record.credits),
        "actor": record.actor,
        "reason": record.reason,
    }
