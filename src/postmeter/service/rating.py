"""Rating sends: what a message costs (a quote, nothing charged), and charging it by its content.

An SMS costs its parts x each recipient's country rate, by the unit's rate card in force when it
is priced; an e-mail costs its recipients x the account's e-mail rate. ``send`` prices then
charges in one all-or-nothing batch, one item per destination country, so the journal shows the
send country by country: each item's key is ``KEY:CC`` and its reference names the country,
the recipients, the parts and the rate.

>>> request = SendRequest("msg-1", "acme", "sms", text="Hi", numbers=["+33612345678"])
>>> sent = send(ctx, OPERATOR, request)
>>> [(c.account, c.credits) for c in sent.charges]
[('acme', 75)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postmeter.domain.errors import InvalidInput, Unratable
from postmeter.domain.idempotency import MAX_KEY_LENGTH, check_key
from postmeter.domain.phones import check_region
from postmeter.domain.rating import QuoteLine, Refusal, email_credits, quote_sms, sms_per_package
from postmeter.domain.units import Unit
from postmeter.domain.validate import check_count, check_instant, check_text
from postmeter.service import catalogue, lookup, rate_cards
from postmeter.service.charging import Charge, ChargeRequest, charge_batch
from postmeter.service.context import Actor, Context
from postmeter.store.uow import Tx

MAX_RECIPIENTS = 1_000_000  # per send: a bigger list is sent in several
MAX_REFERENCE = 120  # the caller's part of each item's reference (200 characters in all)
# Each country's charge is booked under KEY:CC, which must fit the keys' limit.
MAX_SEND_KEY = MAX_KEY_LENGTH - len(":CC")


@dataclass(frozen=True, slots=True)
class Message:
    """What is sent: an SMS ``text`` to phone ``numbers``, or an e-mail to ``recipients``.

    Numbers are E.164 (``+33612345678``) or national numbers of ``default_region``. With
    ``partial``, numbers that cannot be priced are left out and listed instead of refusing all.
    """

    text: str | None = None
    numbers: Sequence[str] = ()
    recipients: int | None = None
    default_region: str | None = None
    partial: bool = False

    def check(self) -> Message:
        """The message as given, or InvalidInput saying what is wrong with it."""
        if self.text is None:
            if self.recipients is None:
                raise InvalidInput(
                    "a send is an SMS (a text and its numbers) or an e-mail (a number of "
                    "recipients): give one of them"
                )
            check_count(self.recipients, "recipients", low=1, high=MAX_RECIPIENTS)
            if self.numbers or self.default_region is not None:
                raise InvalidInput("an e-mail send counts recipients: it takes no phone numbers")
            return self
        if self.recipients is not None:
            raise InvalidInput("an SMS send counts its numbers: give no number of recipients")
        _check_storable(self.text, "the SMS text")
        if isinstance(self.numbers, str | bytes) or not isinstance(self.numbers, Sequence):
            raise InvalidInput("numbers must be a list of phone numbers")
        if len(self.numbers) > MAX_RECIPIENTS:
            raise InvalidInput(f"a send has at most {MAX_RECIPIENTS} recipients")
        for number in self.numbers:
            _check_storable(number, f"phone number {number!r}")
        if self.default_region is not None:
            check_region(self.default_region)
        return self


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Send ``text`` to ``numbers`` (an SMS) or to ``recipients`` (an e-mail) from ``account``,
    charged in ``unit``; ``sender`` names the account's list or domain that sends."""

    key: str
    account: str
    unit: str
    text: str | None = None
    numbers: Sequence[str] = ()
    recipients: int | None = None
    default_region: str | None = None
    partial: bool = False
    sender: str | None = None
    reference: str | None = None  # the caller's id for the send (message, campaign)

    @property
    def message(self) -> Message:
        return Message(
            self.text, self.numbers, self.recipients, self.default_region, self.partial
        ).check()


@dataclass(frozen=True, slots=True)
class Priced:
    """What a message costs in steps of ``unit``, by the rates in force at ``priced_at``.

    An SMS has a line per destination country (recipients, parts to all of them, the rate per
    part, credits); an e-mail has none and a ``rate`` per recipient.
    """

    account: str
    unit: str
    credits: int
    recipients: int  # those priced
    priced_at: str
    lines: tuple[QuoteLine, ...] = ()
    refused: tuple[Refusal, ...] = ()  # numbers left out (with ``partial`` only)
    parts: int | None = None  # an SMS: parts per message
    encoding: str | None = None  # an SMS: gsm7 or ucs2
    rate: int | None = None  # an e-mail: credits per recipient
    rates_from: str | None = None  # an SMS: when the card version used took effect

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe, as ``from_dict`` reads it back."""
        return {
            "account": self.account,
            "unit": self.unit,
            "credits": self.credits,
            "recipients": self.recipients,
            "lines": [list(line) for line in self.lines],
            "refused": [list(r) for r in self.refused],
            "parts": self.parts,
            "encoding": self.encoding,
            "rate": self.rate,
            "rates_from": self.rates_from,
            "priced_at": self.priced_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Priced:
        return cls(
            **{
                **data,
                "lines": tuple(QuoteLine(*line) for line in data["lines"]),
                "refused": tuple(Refusal(*r) for r in data["refused"]),
            }
        )


@dataclass(frozen=True, slots=True)
class Sent:
    """A send charged: its price and its charges, one per line of the price (one for an e-mail)."""

    priced: Priced
    charges: tuple[Charge, ...]

    @property
    def credits(self) -> int:
        return sum(c.credits for c in self.charges)

    @property
    def balance(self) -> int:
        """The account's balance after the whole send."""
        return self.charges[-1].balance

    @property
    def available(self) -> int:
        return self.charges[-1].available

    @property
    def replayed(self) -> bool:
        """The key was seen before: nothing new was charged."""
        return all(c.replayed for c in self.charges)


@dataclass(frozen=True, slots=True)
class PackageSms:
    """How many single-part SMS a catalogue package buys, per country the card rates (``*``:
    any other country, at the card's default rate)."""

    package: str
    name: str
    credits: int
    sms: dict[str, int]


def quote(
    ctx: Context,
    account: str,
    unit: str,
    message: Message,
    *,
    at: datetime | None = None,
) -> Priced:
    """What ``message`` would cost ``account`` in ``unit`` at ``at`` (default: now), country by
    country; nothing is charged. Raises Unratable listing the numbers that cannot be priced,
    unless the message is ``partial``."""
    message.check()
    with ctx.store.read() as tx:
        return price(tx, account, unit, message, at or ctx.clock.now())


def send(ctx: Context, actor: Actor, request: SendRequest) -> Sent:
    """Price a send by the rates in force now and charge it, all or nothing: one charge per
    destination country (key ``KEY:CC``), or one for an e-mail (key ``KEY``).

    The same key again replays the first charges; if the price changed since (a new card),
    that is another request and IdempotencyConflict says so. A refusal (Unratable,
    InsufficientCredits, ...) charges nothing.
    """
    message = request.message
    _check_request(request)
    with ctx.store.read() as tx:
        priced = price(tx, request.account, request.unit, message, ctx.clock.now())
        the_unit = lookup.unit(tx, request.unit)
    refuse_if_empty(priced)
    items = [
        ChargeRequest(
            request.key if country is None else f"{request.key}:{country}",
            request.account,
            request.unit,
            credits,
            reference,
            request.sender,
        )
        for country, credits, reference in _items(priced, the_unit, request.reference)
    ]
    outcomes = charge_batch(ctx, actor, items, atomic=True)
    return Sent(priced, tuple(o.charge for o in outcomes if o.charge is not None))


def packages_per_country(ctx: Context, unit: str, at: datetime | None = None) -> list[PackageSms]:
    """For each active catalogue package of ``unit``: the single-part SMS it buys per country,
    by the card in force at ``at`` (default: now)."""
    with ctx.store.read() as tx:
        version = rate_cards.in_force(tx, unit, at or ctx.clock.now())
    packages = [p for p in catalogue.list_packages(ctx, unit) if p.active]
    table = sms_per_package({p.code: p.credits for p in packages}, version)
    return [PackageSms(p.code, p.name, p.credits, table[p.code]) for p in packages]


def price(tx: Tx, account: str, unit: str, message: Message, at: datetime) -> Priced:
    """Inside a unit of work: ``message`` priced for ``account`` by the rates in force at ``at``."""
    at = check_instant(at, "the instant of pricing")
    row = lookup.account(tx, account)
    the_unit = lookup.unit(tx, unit)
    if message.text is None:
        assert message.recipients is not None, "checked: an e-mail has recipients"
        own, by_plan = rate_cards.email_rates_of(tx, row.id, unit)
        credits = email_credits(
            message.recipients, the_unit.scale, account_rate=own, plan_rate=by_plan
        )
        return Priced(
            account, unit, credits, message.recipients, at.isoformat(),
            rate=credits // message.recipients,
        )  # fmt: skip
    version = rate_cards.in_force(tx, unit, at)
    q = quote_sms(
        message.text,
        message.numbers,
        version,
        default_region=message.default_region,
        partial=message.partial,
    )
    return Priced(
        account, unit, q.credits, q.recipients, at.isoformat(), q.lines, q.refused,
        parts=q.segments.count,
        encoding=q.segments.encoding,
        rates_from=version.effective_from.isoformat(),
    )  # fmt: skip


def refuse_if_empty(priced: Priced) -> None:
    """A partial send none of whose numbers can be priced has nothing to charge: refuse it."""
    if priced.credits == 0:
        raise Unratable(
            f"none of the {len(priced.refused)} recipients can be priced",
            recipients=[r.as_detail() for r in priced.refused],
        )


def _items(priced: Priced, unit: Unit, reference: str | None) -> list[tuple[str | None, int, str]]:
    """(country, credits, reference) of each charge: per country for an SMS, one for an e-mail
    (without a country)."""
    suffix = "" if reference is None else f" ({reference})"
    if not priced.lines:
        assert priced.rate is not None
        to = _count(priced.recipients, "recipient")
        return [
            (None, priced.credits, f"{priced.unit} to {to} at {unit.format(priced.rate)}{suffix}")
        ]
    return [
        (
            line.country,
            line.credits,
            f"{priced.unit} to {line.country}: {_count(line.recipients, 'recipient')} x "
            f"{_count(priced.parts or 1, 'part')} at {unit.format(line.rate)}{suffix}",
        )
        for line in priced.lines
    ]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _check_request(request: SendRequest) -> None:
    check_key(request.key)
    if request.text is not None and len(request.key) > MAX_SEND_KEY:
        raise InvalidInput(
            f"an SMS send's key is at most {MAX_SEND_KEY} characters: each country's charge "
            "is booked under KEY:CC"
        )
    if request.reference is not None:
        check_text(request.reference, "reference", MAX_REFERENCE)


def _check_storable(text: object, what: str) -> None:
    """Text both databases can store: a str of UTF-8-encodable characters, without NUL."""
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be text, not {type(text).__name__}")
    if "\x00" in text:
        raise InvalidInput(f"{what} must not contain NUL characters")
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{what} is not valid Unicode text (a lone surrogate)") from exc
