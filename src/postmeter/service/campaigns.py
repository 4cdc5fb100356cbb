"""Campaigns: a send scheduled for later, its quoted cost held until it goes out [SMS platform].

Scheduling prices the message by the rates in force now and reserves that much until the
deadline, so available = balance - reserved. Sending prices it again by the rates in force
then and captures the reservation at that price: what is left over goes back to the very lots
it came from, what goes beyond the hold is drawn afresh (or refused with the shortfall).
Cancelling releases it all; a campaign not sent by its deadline is released by ``tick``.

A campaign's id is its reservation's, and its status the reservation's: scheduled (held),
sent (captured), cancelled (released), expired (timed out). What is needed to price it again
(the text, the numbers, the unit) is kept beside it.

Each step is two transactions, the reservation's and the campaign's, each under its own key,
ordered so that a retry under the same key finishes what a crash interrupted:

- schedule: ``reserve`` under KEY, then the campaign under ``campaign:ID``; a retry reserves
  what the first try reserved (the quote then stands), so it replays whatever the card is now;
- send: the price under KEY (kept with the campaign), then ``capture`` under
  ``campaign:ID:capture`` at that price; a retry replays the price, so the capture replays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from postmeter.domain.errors import InvalidInput, InvalidState, NotFound
from postmeter.domain.idempotency import check_key
from postmeter.domain.validate import check_text, is_id
from postmeter.service import lookup
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.service.rating import Message, Priced, SendRequest, price, quote, refuse_if_empty
from postmeter.service.reservations import (
    CAPTURED,
    HELD,
    RELEASED,
    TIMED_OUT,
    capture,
    release,
    reserve,
)
from postmeter.store import tables as t
from postmeter.store.uow import Tx

SCHEDULED = "scheduled"
SENT = "sent"
CANCELLED = "cancelled"
EXPIRED = "expired"
_STATUS = {HELD: SCHEDULED, CAPTURED: SENT, RELEASED: CANCELLED, TIMED_OUT: EXPIRED}


@dataclass(frozen=True, slots=True)
class Campaign:
    """A scheduled send: its message, what it holds, and its prices when scheduled and sent."""

    id: int  # its reservation's
    account: str
    unit: str
    status: str  # scheduled, sent, cancelled, expired
    deadline_at: str
    reserved: int  # the quoted cost, held when it was scheduled
    captured: int | None  # what sending it cost
    quote: Priced  # when it was scheduled
    sent_quote: Priced | None  # when it was sent: the price captured
    text: str | None
    numbers: tuple[str, ...]
    recipients: int | None
    default_region: str | None
    partial: bool
    reference: str | None
    created_at: str

    @property
    def message(self) -> Message:
        return Message(self.text, self.numbers, self.recipients, self.default_region, self.partial)


def schedule_campaign(
    ctx: Context, actor: Actor, request: SendRequest, deadline_at: datetime
) -> Campaign:
    """Price the send by the rates in force now and hold that much until ``deadline_at``."""
    message = request.message
    check_key(request.key)
    if request.sender is not None:
        raise InvalidInput("a campaign holds its account's credits: it cannot name a sender")
    if request.reference is not None:
        check_text(request.reference, "reference")
    priced = quote(ctx, request.account, request.unit, message)
    refuse_if_empty(priced)
    credits = _reserved_before(ctx, actor, request.key) or priced.credits
    held = reserve(ctx, actor, request.key, request.account, request.unit, credits, deadline_at)
    content = {
        "text": message.text,
        "numbers": None if message.text is None else json.dumps(list(message.numbers)),
        "recipients": message.recipients,
        "default_region": message.default_region,
        "partial": message.partial,
        "reference": request.reference,
    }

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        res = _reservation(tx, held.id)
        tx.conn.execute(
            insert(t.campaigns).values(
                reservation_id=held.id,
                root_id=res.root_id,
                quote=json.dumps(priced.as_dict()),
                created_at=now,
                txn_id=txn_id,
                **content,
            )
        )
        return {"id": held.id}

    request_ = {"reservation": held.id, **content}
    run_once(ctx, actor, f"campaign:{held.id}", "campaign.schedule", request_, work)
    return get_campaign(ctx, held.id)


def send_campaign(ctx: Context, actor: Actor, key: str, campaign_id: int) -> Campaign:
    """Send it now: price it by the rates in force now and capture that from its reservation."""

    def work(tx: Tx, _txn: int, now: datetime) -> dict[str, Any]:
        row = _row(tx, campaign_id)
        if row.status != HELD:
            raise InvalidState(
                f"campaign {campaign_id} is {_STATUS[row.status]} already",
                campaign=campaign_id,
                status=_STATUS[row.status],
            )
        if row.deadline_at <= now:
            raise InvalidState(f"campaign {campaign_id} passed its deadline", campaign=campaign_id)
        account = tx.account_by_id(row.account_id)
        assert account is not None
        priced = price(tx, account.ref, row.unit, _message(row), now)
        refuse_if_empty(priced)
        tx.conn.execute(
            update(t.campaigns)
            .where(t.campaigns.c.reservation_id == campaign_id)
            .values(sent_quote=json.dumps(priced.as_dict()), priced_at=now)
        )
        return {"credits": priced.credits}

    result, _, _ = run_once(ctx, actor, key, "campaign.send", {"campaign": campaign_id}, work)
    capture(ctx, actor, f"campaign:{campaign_id}:capture", campaign_id, result["credits"])
    return get_campaign(ctx, campaign_id)


def cancel_campaign(ctx: Context, actor: Actor, key: str, campaign_id: int) -> Campaign:
    """Call it off: every credit it holds goes back to the lots it came from."""
    with ctx.store.read() as tx:
        _row(tx, campaign_id)
    release(ctx, actor, key, campaign_id)
    return get_campaign(ctx, campaign_id)


def get_campaign(ctx: Context, campaign_id: int) -> Campaign:
    with ctx.store.read() as tx:
        return _view(tx, _row(tx, campaign_id))


def list_campaigns(ctx: Context, account: str) -> list[Campaign]:
    """An account's campaigns, oldest first."""
    with ctx.store.read() as tx:
        row = lookup.account(tx, account)
        rows = tx.conn.execute(
            _CAMPAIGNS.where(t.reservations.c.account_id == row.id).order_by(
                t.campaigns.c.reservation_id
            )
        ).all()
        return [_view(tx, r) for r in rows]


_CAMPAIGNS = select(
    t.campaigns,
    t.reservations.c.account_id,
    t.reservations.c.unit,
    t.reservations.c.status,
    t.reservations.c.credits,
    t.reservations.c.captured,
    t.reservations.c.deadline_at,
).join(t.reservations, t.reservations.c.id == t.campaigns.c.reservation_id)


def _row(tx: Tx, campaign_id: int) -> Row[Any]:
    row = None
    if is_id(campaign_id):
        row = tx.conn.execute(_CAMPAIGNS.where(t.campaigns.c.reservation_id == campaign_id)).first()
    if row is None:
        raise NotFound(f"no campaign {campaign_id}", campaign=campaign_id)
    return row


def _reservation(tx: Tx, reservation_id: int) -> Row[Any]:
    row = tx.conn.execute(
        select(t.reservations).where(t.reservations.c.id == reservation_id)
    ).first()
    assert row is not None, "reserve just made it"
    return row


def _message(row: Row[Any]) -> Message:
    numbers = () if row.numbers is None else tuple(json.loads(row.numbers))
    return Message(row.text, numbers, row.recipients, row.default_region, row.partial)


def _view(tx: Tx, row: Row[Any]) -> Campaign:
    account = tx.account_by_id(row.account_id)
    assert account is not None
    message = _message(row)
    return Campaign(
        id=row.reservation_id,
        account=account.ref,
        unit=row.unit,
        status=_STATUS[row.status],
        deadline_at=row.deadline_at.isoformat(),
        reserved=row.credits,
        captured=row.captured,
        quote=Priced.from_dict(json.loads(row.quote)),
        sent_quote=None if row.sent_quote is None else Priced.from_dict(json.loads(row.sent_quote)),
        text=message.text,
        numbers=tuple(message.numbers),
        recipients=message.recipients,
        default_region=message.default_region,
        partial=message.partial,
        reference=row.reference,
        created_at=row.created_at.isoformat(),
    )


def _reserved_before(ctx: Context, actor: Actor, key: str) -> int | None:
    """What a first try under ``key`` reserved, if it did: a retry reserves the same."""
    with ctx.store.read() as tx:
        prior = tx.find_txns(actor.scope, [key]).get(key)
    credits = None if prior is None else prior.result.get("credits")
    return credits if isinstance(credits, int) else None
