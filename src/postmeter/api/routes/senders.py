"""Senders: an account's domains and lists, how each shares its credits, their status, their
daily outcomes and dedicated-IP requests.

An account key acts as the sender's owner, an operator key as the operator: the status rules
(domain/statuses.py) say who may do what, so an owner asking to unblock is booked while an owner
unblocking is refused (403 ``refused``). Outcomes and decisions on dedicated IPs are the
operator's alone.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from postmeter.api import cursors
from postmeter.api.amounts import Credits, to_steps
from postmeter.api.auth import Ctx, Reader, check_sees
from postmeter.api.deps import Change, ChangeDep, OperatorChangeDep, Units
from postmeter.api.problems import PROBLEMS
from postmeter.api.schemas import Amount, Out, answers
from postmeter.domain import senders as rules
from postmeter.domain.units import Unit
from postmeter.service import dedicated_ips, senders

router = APIRouter(prefix="/v1", tags=["senders"], responses=PROBLEMS)

# No "/" in it either, as a segment of its own URLs: the service refuses one (domain/senders.py).
Name = Annotated[str, Field(min_length=1, max_length=senders.MAX_NAME)]
Code = Annotated[str, Field(min_length=1, max_length=32)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
Mode = Literal["free_access", "cap", "assignment"]
Count = Annotated[StrictInt, Field(ge=0, le=dedicated_ips.MAX_COUNT)]
Cursor = Annotated[str | None, Query(max_length=40)]
Limit = Annotated[int, Query(ge=1, le=500)]


class SenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: Literal["domain", "list"] = "domain"
    unit: Code
    mode: Mode = "free_access"
    limit: Credits | None = Field(
        None, description="The cap per period, or the credits to set aside; none for free access."
    )


class SharingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode
    limit: Credits | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal[
        "suspend", "resume", "block", "unblock", "request_unblock", "approve_unblock",
        "refuse_unblock",
    ]  # fmt: skip
    reason: Reason | None = Field(
        None, description="Why: needed to block, to ask for an unblock and to refuse one."
    )


class OutcomesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    sent: Count
    delivered: Count
    hard_bounced: Count = 0
    complained: Count = 0


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "refuse"]
    reason: Reason | None = Field(None, description="Why: needed to refuse.")


class SenderOut(Out):
    """A sender: ``cap_used`` counts this period; ``assigned`` is what is left of its
    assignment."""

    account: str
    name: str
    kind: str
    unit: str
    mode: str
    cap: Amount | None
    cap_used: Amount
    assigned: Amount
    status: str
    unblock_requested: bool


class SenderPage(Out):
    items: list[SenderOut]
    next_cursor: str | None


class SenderEventOut(Out):
    at: str
    action: str
    role: str
    actor: str
    reason: str | None
    before: str
    after: str


class SenderEventPage(Out):
    items: list[SenderEventOut]
    next_cursor: str | None


class OutcomesOut(Out):
    account: str
    sender: str
    day: str
    sent: int
    delivered: int
    hard_bounced: int
    complained: int


class IpRequestOut(Out):
    """Rates are counts over the last 7 days and, exactly, in hundredths of a percent."""

    id: int
    account: str
    sender: str
    state: str
    volume_30d: int
    sent_7d: int
    delivered_7d: int
    hard_bounced_7d: int
    complained_7d: int
    delivered_bp: int | None
    hard_bounced_bp: int | None
    complained_bp: int | None
    asked_by: str
    asked_at: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None


class IpRequestPage(Out):
    items: list[IpRequestOut]
    next_cursor: str | None


@router.post(
    "/accounts/{ref}/senders",
    status_code=201,
    summary="Add a sender (a domain or a list)",
    responses=answers(201, SenderOut),
)
def create_sender(ref: str, body: SenderIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(ref)
        unit = change.units.get(body.unit)
        done = senders.create_sender(
            change.ctx, change.who.actor, change.key, ref, body.name, kind=body.kind,
            unit=body.unit, sharing=_sharing(body.mode, body.limit, unit),
        )  # fmt: skip
        return 201, _sender(done, unit)

    return change.run({"op": "sender.create", "ref": ref, **body.model_dump()}, work)


@router.get(
    "/accounts/{ref}/senders",
    summary="An account's senders, by cursor",
    responses=answers(200, SenderPage),
)
def list_senders(
    ref: str, ctx: Ctx, who: Reader, cache: Units, cursor: Cursor = None, limit: Limit = 100
) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    after = cursors.decode("snd", cursor)
    found, last = senders.page_senders(ctx, ref, after_id=after, limit=limit)
    return {
        "items": [_sender(s, cache.get(s.unit)) for s in found],
        "next_cursor": None if last is None else cursors.encode("snd", last),
    }


@router.get(
    "/accounts/{ref}/senders/{name}",
    summary="A sender: how it shares, its limits this period, its status",
    responses=answers(200, SenderOut),
)
def get_sender(ref: str, name: str, ctx: Ctx, who: Reader, cache: Units) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    found = senders.get_sender(ctx, ref, name)
    return _sender(found, cache.get(found.unit))


@router.get(
    "/accounts/{ref}/senders/{name}/history",
    summary="A sender's status changes, oldest first: who, as what, why",
    responses=answers(200, SenderEventPage),
)
def sender_history(
    ref: str, name: str, ctx: Ctx, who: Reader, cursor: Cursor = None, limit: Limit = 100
) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    after = cursors.decode("sev", cursor)
    found, last = senders.page_history(ctx, ref, name, after_id=after, limit=limit)
    return {
        "items": [asdict(e) for e in found],
        "next_cursor": None if last is None else cursors.encode("sev", last),
    }


@router.post(
    "/accounts/{ref}/senders/{name}/sharing",
    summary="Change how a sender shares the account's credits",
    responses=answers(200, SenderOut),
)
def set_sharing(ref: str, name: str, body: SharingIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(ref)
        unit = change.units.get(senders.get_sender(change.ctx, ref, name).unit)
        sharing = _sharing(body.mode, body.limit, unit)
        done = senders.set_sharing(change.ctx, change.who.actor, change.key, ref, name, sharing)
        return 200, _sender(done, unit)

    return change.run({"op": "sender.share", "ref": ref, "name": name, **body.model_dump()}, work)


@router.post(
    "/accounts/{ref}/senders/{name}/status",
    summary="Suspend, resume, block, unblock, or ask for / decide an unblock",
    responses=answers(200, SenderOut),
)
def change_status(ref: str, name: str, body: StatusIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(ref)
        done = senders.change_status(
            change.ctx, change.who.actor, change.key, ref, name, body.action,
            role=_role(change), reason=body.reason,
        )  # fmt: skip
        return 200, _sender(done, change.units.get(done.unit))

    return change.run({"op": "sender.status", "ref": ref, "name": name, **body.model_dump()}, work)


@router.post(
    "/accounts/{ref}/senders/{name}/outcomes",
    summary="Report what became of a day's messages (operator); a later report replaces it",
    responses=answers(200, OutcomesOut),
)
def report_outcomes(ref: str, name: str, body: OutcomesIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        done = dedicated_ips.report_outcomes(
            change.ctx, change.who.actor, change.key, ref, name, body.day, sent=body.sent,
            delivered=body.delivered, hard_bounced=body.hard_bounced, complained=body.complained,
        )  # fmt: skip
        return 200, asdict(done)

    request = {"op": "outcomes", "ref": ref, "name": name, **body.model_dump(mode="json")}
    return change.run(request, work)


@router.post(
    "/accounts/{ref}/senders/{name}/ip-requests",
    status_code=201,
    summary="Ask for a dedicated IP (the sender's figures of now go with the request)",
    responses=answers(201, IpRequestOut),
)
def ask_for_ip(ref: str, name: str, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(ref)
        done = dedicated_ips.ask_for_ip(change.ctx, change.who.actor, change.key, ref, name)
        return 201, asdict(done)

    return change.run({"op": "ip.ask", "ref": ref, "name": name}, work)


@router.get(
    "/accounts/{ref}/ip-requests",
    summary="An account's dedicated-IP requests, newest first, by cursor",
    responses=answers(200, IpRequestPage),
)
def list_ip_requests(
    ref: str, ctx: Ctx, who: Reader, cursor: Cursor = None, limit: Limit = 100
) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    before = cursors.decode("ip", cursor) if cursor is not None else None
    # One beyond the page tells whether another follows.
    found = dedicated_ips.ip_requests(ctx, ref, before_id=before, limit=limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return {
        "items": [asdict(r) for r in page],
        "next_cursor": cursors.encode("ip", page[-1].id) if more else None,
    }


@router.post(
    "/ip-requests/{request_id}/decision",
    summary="Approve or refuse a dedicated-IP request (operator)",
    responses=answers(200, IpRequestOut),
)
def decide_ip(request_id: int, body: DecisionIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        done = dedicated_ips.decide_ip(
            change.ctx, change.who.actor, change.key, request_id,
            approve=body.decision == "approve", reason=body.reason,
        )  # fmt: skip
        return 200, asdict(done)

    return change.run({"op": "ip.decide", "id": request_id, **body.model_dump()}, work)


def _role(change: Change) -> str:
    """An account key is the sender's owner (it sees the sender, so it is in its tree)."""
    return "operator" if change.who.is_operator else "owner"


def _sharing(mode: str, limit: str | int | None, unit: Unit) -> rules.Sharing:
    # A cap or an assignment of 0 is allowed: it stops the sender without suspending it.
    steps = None if limit is None else to_steps(limit, unit, allow_zero=True)
    return rules.Sharing(mode, steps)


def _sender(s: senders.Sender, unit: Unit) -> dict[str, Any]:
    out = asdict(s)
    out["cap"] = None if s.cap is None else unit.format(s.cap)
    out["cap_used"], out["assigned"] = unit.format(s.cap_used), unit.format(s.assigned)
    return out
