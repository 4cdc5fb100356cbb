"""Rating over HTTP: what a message costs (quotes), sends charged by their content, country by
country, and the table of SMS each package buys. Callers say what they send, not what it costs.

An SMS is ``text`` and its ``numbers`` (E.164, or national numbers of ``region``); an e-mail is
a number of ``recipients``. With ``partial``, numbers that cannot be priced are left out and
listed instead of refusing the whole send; without it, the refusal (422 ``unratable``) lists
every such number with its reason. The operator's prices (rate cards, e-mail rates) are in
routes/rate_cards.py, scheduled sends in routes/campaigns.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

import postmeter as pm
from postmeter.api import schemas, views
from postmeter.api.auth import Ctx, Reader, check_sees
from postmeter.api.deps import ChangeDep, Units
from postmeter.api.problems import PROBLEMS
from postmeter.api.schemas import Amount, Out, answers
from postmeter.domain.units import Unit
from postmeter.service.rating import MAX_RECIPIENTS, MAX_REFERENCE

router = APIRouter(prefix="/v1", tags=["rating"], responses=PROBLEMS)

Ref = Annotated[str, Field(min_length=1, max_length=64)]
UnitCode = Annotated[str, Field(min_length=1, max_length=32)]
# A message has at most 255 parts (domain/sms.py): longer texts are refused there, by name; this
# bound only keeps a body from being absurdly large.
MAX_TEXT = 64_000
# phonenumbers reads at most 250 characters: a longer "number" is refused as invalid_number and
# listed like any other; only past this bound does validation refuse it, by its position.
MAX_NUMBER = 1_000


class MessageIn(BaseModel):
    """What is sent: an SMS (``text`` and ``numbers``) or an e-mail (``recipients``)."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(max_length=MAX_TEXT)] | None = Field(
        None, description="An SMS: its text, split in GSM-7 or UCS-2 parts by postmeter."
    )
    numbers: Annotated[
        list[Annotated[str, Field(max_length=MAX_NUMBER)]], Field(max_length=MAX_RECIPIENTS)
    ] = Field(
        default_factory=list,
        description="An SMS: phone numbers, E.164 ('+33612345678') or national of `region`.",
    )
    recipients: Annotated[StrictInt, Field(ge=1, le=MAX_RECIPIENTS)] | None = Field(
        None, description="An e-mail: how many recipients."
    )
    region: Annotated[str, Field(min_length=1, max_length=8)] | None = Field(
        None, description="The country of numbers written nationally, e.g. 'FR'."
    )
    partial: StrictBool = Field(
        False, description="Leave out (and list) the numbers that cannot be priced."
    )


class SendIn(MessageIn):
    account: Ref
    unit: UnitCode
    sender: Annotated[str, Field(min_length=1, max_length=253)] | None = Field(
        None, description="The account's list or domain that sends."
    )
    reference: Annotated[str, Field(min_length=1, max_length=MAX_REFERENCE)] | None = Field(
        None, description="Your id for the send, written in each country's journal entry."
    )


class QuoteIn(MessageIn):
    account: Ref
    unit: UnitCode
    at: AwareDatetime | None = Field(None, description="Price by the rates of; default now.")


class QuoteLineOut(Out):
    country: str
    recipients: int
    parts: int  # every part to every recipient in the country
    rate: Amount  # credits per part
    credits: Amount


class RefusedOut(Out):
    number: str
    reason: str  # invalid_number, unknown_country, no_rate
    country: str | None  # for no_rate: the country the card does not rate


class PricedOut(Out):
    """What a message costs, country by country (an SMS), or per recipient (an e-mail)."""

    account: str
    unit: str
    credits: Amount
    recipients: int  # those priced
    parts: int | None  # an SMS: parts per message
    encoding: str | None  # an SMS: gsm7 or ucs2
    rate: Amount | None  # an e-mail: credits per recipient
    rates_from: str | None  # an SMS: when the rate card version used took effect
    priced_at: str
    lines: list[QuoteLineOut]
    refused: list[RefusedOut]  # numbers left out (partial only)


class SentChargeOut(schemas.ChargeOut):
    country: str | None  # null for an e-mail: one charge


class SentOut(PricedOut):
    """A send charged: its price, and one charge per destination country."""

    charges: list[SentChargeOut]
    balance: Amount  # after the whole send
    available: Amount


class PackageSmsOut(Out):
    package: str
    name: str
    credits: Amount
    sms: dict[str, int]  # single-part SMS per country; '*' for any other country


class PackagesPerCountryOut(Out):
    """How many single-part SMS each active package buys, by the rate card in force."""

    unit: str
    rates_from: str
    rates: dict[str, Amount]  # credits per part, by country code
    default: Amount | None  # the rate to any other country, if the card has one
    items: list[PackageSmsOut]


@router.post(
    "/quotes",
    summary="What a message would cost, country by country; nothing is charged",
    responses=answers(200, PricedOut),
)
def create_quote(body: QuoteIn, ctx: Ctx, who: Reader, cache: Units) -> dict[str, Any]:
    # A POST for its body (a list of numbers outgrows a URL, and URLs get logged), yet a read:
    # it books nothing, so it takes no Idempotency-Key and read-only keys may ask.
    check_sees(ctx, who, body.account)
    unit = cache.get(body.unit)
    message = pm.Message(body.text, body.numbers, body.recipients, body.region, body.partial)
    return priced(pm.quote(ctx, body.account, body.unit, message, at=body.at), unit)


@router.post(
    "/sends",
    status_code=201,
    summary="Price a message by the rates in force and charge it, one charge per country",
    responses=answers(201, SentOut),
)
def create_send(body: SendIn, change: ChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        change.sees(body.account)
        unit = change.units.get(body.unit)
        request = pm.SendRequest(
            change.key, body.account, body.unit, body.text, body.numbers, body.recipients,
            body.region, body.partial, body.sender, body.reference,
        )  # fmt: skip
        return 201, sent(pm.send(change.ctx, change.who.actor, request), unit)

    return change.run({"op": "send", **body.model_dump()}, work)


@router.get(
    "/packages-per-country",
    summary="How many single-part SMS each package buys, per country",
    responses=answers(200, PackagesPerCountryOut),
)
def get_packages_per_country(
    ctx: Ctx,
    _who: Reader,
    cache: Units,
    unit: Annotated[str, Query(max_length=32)],
    at: Annotated[AwareDatetime | None, Query(description="By the card of; default now.")] = None,
) -> dict[str, Any]:
    the_unit = cache.get(unit)
    when = at or ctx.clock.now()
    version = pm.rates_in_force(ctx, unit, when)
    found = pm.packages_per_country(ctx, unit, when)
    return {
        "unit": unit,
        "rates_from": version.effective_from.isoformat(),
        "rates": rates(version, the_unit),
        "default": amount(the_unit, version.default),
        "items": [
            {
                "package": p.package,
                "name": p.name,
                "credits": the_unit.format(p.credits),
                "sms": p.sms,
            }
            for p in found
        ],
    }


def priced(p: pm.Priced, unit: Unit) -> dict[str, Any]:
    f = unit.format
    return {
        "account": p.account,
        "unit": p.unit,
        "credits": f(p.credits),
        "recipients": p.recipients,
        "parts": p.parts,
        "encoding": p.encoding,
        "rate": amount(unit, p.rate),
        "rates_from": p.rates_from,
        "priced_at": p.priced_at,
        "lines": [
            {
                "country": line.country,
                "recipients": line.recipients,
                "parts": line.parts,
                "rate": f(line.rate),
                "credits": f(line.credits),
            }
            for line in p.lines
        ],
        "refused": [
            {"number": r.number, "reason": r.reason, "country": r.country} for r in p.refused
        ],
    }


def sent(s: pm.Sent, unit: Unit) -> dict[str, Any]:
    # One charge per line of the price, in the same order; an e-mail has one and no country.
    countries: list[str | None] = [line.country for line in s.priced.lines] or [None]
    return {
        **priced(s.priced, unit),
        "charges": [
            {"country": country, **views.charge(c, unit)}
            for country, c in zip(countries, s.charges, strict=True)
        ],
        "balance": unit.format(s.balance),
        "available": unit.format(s.available),
    }


def rates(version: pm.RateCardVersion, unit: Unit) -> dict[str, str]:
    """Credits per part by country, as a rate card is given: ``{"FR": "0.75"}``."""
    return {country: unit.format(steps) for country, steps in version.rates.items()}


def amount(unit: Unit, steps: int | None) -> str | None:
    return None if steps is None else unit.format(steps)
