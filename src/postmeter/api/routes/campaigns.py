"""Campaigns over HTTP: a send scheduled for later, its quoted cost held until it goes out.

Scheduling prices the message by the rate card in force now and reserves that much until the
deadline (available = balance - reserved); sending prices it again by the card in force then and
captures that, the rest going back to its lots; cancelling releases it all; ``tick`` releases a
campaign not sent by its deadline. A campaign's id is its reservation's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import AwareDatetime, Field

import postmeter as pm
from postmeter.api.auth import Ctx, Reader, check_sees
from postmeter.api.deps import ChangeDep, Units
from postmeter.api.problems import PROBLEMS
from postmeter.api.routes.rating import MessageIn, PricedOut, Ref, UnitCode, amount, priced
from postmeter.api.schemas import Amount, Out, answers
from postmeter.domain.units import Unit
from postmeter.service.context import Context
from postmeter.service.keys import Principal

router = APIRouter(prefix="/v1", tags=["campaigns"], responses=PROBLEMS)


class CampaignIn(MessageIn):
    account: Ref
    unit: UnitCode
    deadline_at: AwareDatetime = Field(description="Released by itself if not sent by then.")
    reference: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="Your id for the campaign."
    )


class CampaignOut(Out):
    """A campaign: its message, status, what it holds, and its prices when scheduled and sent."""

    id: int
    account: str
    unit: str
    status: str  # scheduled, sent, cancelled, expired
    deadline_at: str
    reserved: Amount  # the quote, held when it was scheduled
    captured: Amount | None  # what sending it cost
    text: str | None
    numbers: list[str]
    recipients: int | None
    region: str | None
    partial: bool
    reference: str | None
    created_at: str
    quote: PricedOut  # when it was scheduled
    sent_quote: PricedOut | None  # when it was sent: the price captured


class CampaignList(Out):
    items: list[CampaignOut]


@router.post(
    "/campaigns",
    status_code=201,
    summary="Schedule a send: quote it now and hold that until it is sent",
    responses=answers(201, CampaignOut),
)
def schedule_campaign(body: CampaignIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(body.account)
        unit = change.units.get(body.unit)
        request = pm.SendRequest(
            change.key, body.account, body.unit, body.text, body.numbers, body.recipients,
            body.region, body.partial, None, body.reference,
        )  # fmt: skip
        done = pm.schedule_campaign(change.ctx, change.who.actor, request, body.deadline_at)
        return 201, campaign(done, unit)

    return change.run({"op": "campaign.schedule", **body.model_dump(mode="json")}, work)


@router.get(
    "/campaigns/{campaign_id}",
    summary="One campaign",
    responses=answers(200, CampaignOut),
)
def get_campaign(campaign_id: int, ctx: Ctx, who: Reader, cache: Units) -> dict[str, Any]:
    found = visible(ctx, who, campaign_id)
    return campaign(found, cache.get(found.unit))


@router.get(
    "/accounts/{ref}/campaigns",
    summary="An account's campaigns, oldest first",
    responses=answers(200, CampaignList),
)
def list_campaigns(ref: str, ctx: Ctx, who: Reader, cache: Units) -> dict[str, Any]:
    check_sees(ctx, who, ref)
    return {"items": [campaign(c, cache.get(c.unit)) for c in pm.list_campaigns(ctx, ref)]}


@router.post(
    "/campaigns/{campaign_id}/send",
    summary="Send it now: price it by the card in force, capture that, release the rest",
    responses=answers(200, CampaignOut),
)
def send_campaign(campaign_id: int, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(visible(change.ctx, change.who, campaign_id).unit)
        done = pm.send_campaign(change.ctx, change.who.actor, change.key, campaign_id)
        return 200, campaign(done, unit)

    return change.run({"op": "campaign.send", "id": campaign_id}, work)


@router.post(
    "/campaigns/{campaign_id}/cancel",
    summary="Call it off: everything it holds goes back to its lots",
    responses=answers(200, CampaignOut),
)
def cancel_campaign(campaign_id: int, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        unit = change.units.get(visible(change.ctx, change.who, campaign_id).unit)
        done = pm.cancel_campaign(change.ctx, change.who.actor, change.key, campaign_id)
        return 200, campaign(done, unit)

    return change.run({"op": "campaign.cancel", "id": campaign_id}, work)


def visible(ctx: Context, who: Principal, campaign_id: int) -> pm.Campaign:
    """The campaign, or the very NotFound of a missing one when it is outside the caller's
    tree (a key must not learn which ids other tenants hold)."""
    found = pm.get_campaign(ctx, campaign_id)
    try:
        check_sees(ctx, who, found.account)
    except pm.NotFound:
        raise pm.NotFound(f"no campaign {campaign_id}", campaign=campaign_id) from None
    return found


def campaign(c: pm.Campaign, unit: Unit) -> dict[str, Any]:
    return {
        "id": c.id,
        "account": c.account,
        "unit": c.unit,
        "status": c.status,
        "deadline_at": c.deadline_at,
        "reserved": unit.format(c.reserved),
        "captured": amount(unit, c.captured),
        "text": c.text,
        "numbers": list(c.numbers),
        "recipients": c.recipients,
        "region": c.default_region,
        "partial": c.partial,
        "reference": c.reference,
        "created_at": c.created_at,
        "quote": priced(c.quote, unit),
        "sent_quote": None if c.sent_quote is None else priced(c.sent_quote, unit),
    }
