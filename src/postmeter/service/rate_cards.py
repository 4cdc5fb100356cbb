"""The operator's prices per message: rate cards (credits per SMS part, country by country) and
e-mail rates (credits per recipient, per plan or per account).

A rate card version takes effect at its ``effective_from``, now or later, never in the past:
what was charged stays priced by the card that was in force then, so a price can always be told
again from the send and its instant. Every change runs once under its idempotency key.

>>> import_rates(ctx, OPERATOR, "rates-2026", "sms", "FR,0.75\\nDE,1.00\\n*,1.25\\n")
>>> rates_in_force(ctx, "sms").rate_for("BR")
125
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from postmeter.domain.amounts import check_credits
from postmeter.domain.errors import AlreadyExists, InvalidInput, NotFound
from postmeter.domain.rates import RateCard, RateCardVersion, format_rates_csv, parse_rates_csv
from postmeter.domain.validate import check_instant
from postmeter.service import catalogue, lookup
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.store import tables as t
from postmeter.store.uow import Tx

EMAIL = "email"  # the unit an e-mail rate is set in when none is named

ACCOUNT = "account"
PLAN = "plan"
DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class EmailRate:
    """Credits per recipient, in steps of the unit, and where the rate comes from.

    For a plan: its own rate (``credits`` None: none set). For an account: the rate its sends
    are charged at, from ``source``: its own, its plan's, or the default of one credit.
    """

    unit: str
    credits: int | None
    source: str  # account, plan, default
    account: str | None = None
    plan: str | None = None


def import_rates(
    ctx: Context,
    actor: Actor,
    key: str,
    unit: str,
    csv_text: str,
    effective_from: datetime | None = None,
) -> RateCardVersion:
    """Load a ``country,credits`` CSV (``*`` for the default) as the unit's card from
    ``effective_from`` (default: now). An error names the line."""
    scale = _unit_scale(ctx, unit)
    # The instant only matters to the checks of the parse; the version's own is set below.
    parsed = parse_rates_csv(csv_text, scale, effective_from or ctx.clock.now())
    return set_rates(
        ctx, actor, key, unit, parsed.rates, default=parsed.default, effective_from=effective_from
    )


def set_rates(
    ctx: Context,
    actor: Actor,
    key: str,
    unit: str,
    rates: Mapping[str, int],
    *,
    default: int | None = None,
    effective_from: datetime | None = None,
) -> RateCardVersion:
    """Add a version of ``unit``'s rate card: steps per SMS part by country, and a default for
    the countries not listed (none if None), in force from ``effective_from`` (default: now)."""
    checked = RateCardVersion(effective_from or ctx.clock.now(), rates, default)
    at = None if effective_from is None else checked.effective_from
    request = {
        "unit": unit,
        "effective_from": None if at is None else at.isoformat(),
        "rates": dict(checked.rates),
        "default": default,
    }

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        lookup.unit(tx, unit)
        starts = now if at is None else at
        if starts < now:
            raise InvalidInput(
                f"a rate card takes effect now or later, not at {starts.isoformat()}: what was "
                "sent before stays priced by the card in force then",
                effective_from=starts.isoformat(),
            )
        if tx.exists(t.rate_cards, unit=unit, effective_from=starts):
            raise AlreadyExists(
                f"the {unit} rate card has a version from {starts.isoformat()} already",
                unit=unit,
                effective_from=starts.isoformat(),
            )
        card_id = tx.insert_row(
            t.rate_cards,
            {
                "unit": unit,
                "effective_from": starts,
                "default_rate": default,
                "created_at": now,
                "txn_id": txn_id,
            },
        )
        if checked.rates:
            tx.conn.execute(
                insert(t.rates),
                [
                    {"card_id": card_id, "country": country, "credits": credits}
                    for country, credits in checked.rates.items()
                ],
            )
        return {**request, "effective_from": starts.isoformat()}

    result, _, _ = run_once(ctx, actor, key, "rates.set", request, work)
    return RateCardVersion(
        datetime.fromisoformat(result["effective_from"]), result["rates"], result["default"]
    )


def rate_card(ctx: Context, unit: str) -> RateCard:
    """Every version of ``unit``'s rate card, past and to come."""
    with ctx.store.read() as tx:
        lookup.unit(tx, unit)
        c = t.rate_cards.c
        cards = tx.conn.execute(select(t.rate_cards).where(c.unit == unit)).all()
        return RateCard(unit, tuple(_version(tx, card) for card in cards))


def rates_in_force(ctx: Context, unit: str, at: datetime | None = None) -> RateCardVersion:
    """The version of ``unit``'s rate card in force at ``at`` (default: now), or NotFound."""
    with ctx.store.read() as tx:
        return in_force(tx, unit, at or ctx.clock.now())


def export_rates(ctx: Context, unit: str, at: datetime | None = None) -> str:
    """The card in force at ``at`` (default: now) as CSV, as ``import_rates`` reads it."""
    with ctx.store.read() as tx:
        scale = lookup.unit(tx, unit).scale
        return format_rates_csv(in_force(tx, unit, at or ctx.clock.now()), scale)


def in_force(tx: Tx, unit: str, at: datetime) -> RateCardVersion:
    """Inside a unit of work: the version in force at ``at``, or NotFound naming the unit."""
    when = check_instant(at, "the instant of pricing")
    lookup.unit(tx, unit)
    c = t.rate_cards.c
    card = tx.conn.execute(
        select(t.rate_cards)
        .where(c.unit == unit, c.effective_from <= when)
        .order_by(c.effective_from.desc())
        .limit(1)
    ).first()
    if card is None:
        raise NotFound(
            f"no {unit} rate card is in force at {when.isoformat()}: import one first",
            unit=unit,
        )
    return _version(tx, card)


def _version(tx: Tx, card: Row[Any]) -> RateCardVersion:
    c = t.rates.c
    rows = tx.conn.execute(select(c.country, c.credits).where(c.card_id == card.id))
    return RateCardVersion(card.effective_from, dict(rows.all()), card.default_rate)


def set_email_rate(
    ctx: Context,
    actor: Actor,
    key: str,
    credits: int | None,
    *,
    account: str | None = None,
    plan: str | None = None,
    unit: str | None = None,
) -> EmailRate:
    """Set (or clear, with None) the credits per recipient of an account's sends in ``unit``
    (default ``email``), or of a plan's subscribers (in the plan's unit); an account's own rate
    wins over its plan's."""
    if (account is None) == (plan is None):
        raise InvalidInput("set the e-mail rate of an account or of a plan (one of them)")
    if credits is not None:
        check_credits(credits)
    request = {"account": account, "plan": plan, "unit": unit, "credits": credits}

    def work(tx: Tx, _txn: int, _now: datetime) -> dict[str, Any]:
        if plan is not None:
            return _set_plan_rate(tx, plan, unit, credits)
        assert account is not None
        row = lookup.account(tx, account)
        code = lookup.unit(tx, unit or EMAIL).code
        tx.lock_balances([(row.id, code)])
        tx.conn.execute(
            update(t.balances)
            .where(t.balances.c.account_id == row.id, t.balances.c.unit == code)
            .values(email_rate=credits)
        )
        return _account_rate(tx, row, code)

    result, _, _ = run_once(ctx, actor, key, "email_rate.set", request, work)
    return EmailRate(**result)


def email_rate(ctx: Context, account: str, unit: str = EMAIL) -> EmailRate:
    """The credits per recipient ``account`` is charged in ``unit``, and where they come from."""
    with ctx.store.read() as tx:
        return EmailRate(**_account_rate(tx, lookup.account(tx, account), unit))


def email_rates_of(tx: Tx, account_id: int, unit: str) -> tuple[int | None, int | None]:
    """(the account's own rate, its plan's rate) in ``unit``, each None when not set.

    The plan is that of the account's oldest active subscription in the unit with a rate.
    """
    own = tx.conn.execute(
        select(t.balances.c.email_rate).where(
            t.balances.c.account_id == account_id, t.balances.c.unit == unit
        )
    ).scalar()
    s, p = t.subscriptions.c, t.plans.c
    by_plan = tx.conn.execute(
        select(p.email_rate)
        .select_from(t.subscriptions.join(t.plans, p.code == s.plan_code))
        .where(
            s.account_id == account_id,
            s.status == "active",
            p.unit == unit,
            p.email_rate.is_not(None),
        )
        .order_by(s.id)
        .limit(1)
    ).scalar()
    return own, by_plan


def _account_rate(tx: Tx, row: Row[Any], unit: str) -> dict[str, Any]:
    scale = lookup.unit(tx, unit).scale
    own, by_plan = email_rates_of(tx, row.id, unit)
    if own is not None:
        credits, source = own, ACCOUNT
    elif by_plan is not None:
        credits, source = by_plan, PLAN
    else:
        credits, source = 10**scale, DEFAULT
    return {"unit": unit, "credits": credits, "source": source, "account": row.ref, "plan": None}


def _set_plan_rate(tx: Tx, code: str, unit: str | None, credits: int | None) -> dict[str, Any]:
    found = catalogue.plan(tx, code)
    if unit is not None and found.unit != unit:
        raise InvalidInput(
            f"plan {code!r} counts {found.unit} credits, not {unit}", plan=code, unit=unit
        )
    tx.conn.execute(update(t.plans).where(t.plans.c.code == code).values(email_rate=credits))
    return {"unit": found.unit, "credits": credits, "source": PLAN, "account": None, "plan": code}


def _unit_scale(ctx: Context, unit: str) -> int:
    with ctx.store.read() as tx:
        return lookup.unit(tx, unit).scale
