"""The operator's prices per message, over HTTP (operator keys only): rate cards (credits per SMS
part, country by country, in dated versions) and e-mail rates (credits per recipient).

A rate card goes in and out as JSON, or as the CSV of spreadsheets in the ``csv`` member of a
JSON body or answer (``country,credits`` rows, ``*`` for any other country), exactly as the
command line's ``rates import`` and ``rates export`` read and write it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

import postmeter as pm
from postmeter.api.amounts import Credits, to_steps
from postmeter.api.auth import Ctx, Operator
from postmeter.api.deps import OperatorChangeDep, Units
from postmeter.api.problems import PROBLEMS
from postmeter.api.routes.rating import amount, rates
from postmeter.api.schemas import Amount, Out, answers
from postmeter.domain.errors import InvalidAmount, InvalidInput
from postmeter.domain.units import Unit
from postmeter.service import catalogue
from postmeter.service.context import Context
from postmeter.service.rate_cards import EMAIL

router = APIRouter(prefix="/v1", tags=["rate cards"], responses=PROBLEMS)

UnitCode = Annotated[str, Field(min_length=1, max_length=32)]
Country = Annotated[str, Field(min_length=1, max_length=8)]
MAX_COUNTRIES = 300  # more than the numbering plan knows
MAX_CSV = 100_000  # characters: a whole card, with room for comments and spaces
At = Annotated[AwareDatetime | None, Query(description="At this instant; default now.")]
StartsAt = Field(None, description="In force from this instant, now or later; default now.")


class RatesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rates: Annotated[dict[Country, Credits], Field(max_length=MAX_COUNTRIES)] = Field(
        default_factory=dict, description="Credits per SMS part by country code, e.g. FR."
    )
    default: Credits | None = Field(None, description="Credits per part to any other country.")
    effective_from: AwareDatetime | None = StartsAt


class RatesCsvIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csv: Annotated[str, Field(max_length=MAX_CSV)] = Field(
        description="Rows 'country,credits' (a header row is optional; '*' for the default)."
    )
    effective_from: AwareDatetime | None = StartsAt


class EmailRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: UnitCode | None = Field(None, description="Default: email.")
    credits: Credits | None = Field(description="Credits per recipient; null clears it.")


class PlanEmailRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credits: Credits | None = Field(description="Credits per recipient; null clears it.")


class RateCardVersionOut(Out):
    unit: str
    effective_from: str
    rates: dict[str, Amount]  # credits per part, by country code, as set
    default: Amount | None  # the rate to any other country


class RateCardOut(Out):
    """The version in force (null when none is yet) and every version, past and to come."""

    unit: str
    in_force: RateCardVersionOut | None
    versions: list[RateCardVersionOut]


class RatesCsvOut(Out):
    unit: str
    effective_from: str
    csv: str


class EmailRateOut(Out):
    """Credits per recipient, and where they come from: account, plan or default (1)."""

    account: str | None
    plan: str | None
    unit: str
    credits: Amount | None  # a plan's: null when it has none of its own
    source: str


@router.get(
    "/rate-cards/{unit}",
    summary="A unit's rate card: the version in force and every version",
    responses=answers(200, RateCardOut),
)
def get_rate_card(
    unit: str, ctx: Ctx, _who: Operator, cache: Units, at: At = None
) -> dict[str, Any]:
    the_unit = cache.get(unit)
    card = pm.rate_card(ctx, unit)
    current = card.in_force(at or ctx.clock.now())
    return {
        "unit": unit,
        "in_force": None if current is None else version(current, the_unit),
        "versions": [version(v, the_unit) for v in card.versions],
    }


@router.post(
    "/rate-cards/{unit}",
    status_code=201,
    summary="Add a version of a unit's rate card",
    responses=answers(201, RateCardVersionOut),
)
def set_rates(unit: str, body: RatesIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        the_unit = change.units.get(unit)
        steps = country_steps(body.rates, the_unit)
        default = None if body.default is None else steps_of(body.default, the_unit, "default")
        done = pm.set_rates(
            change.ctx, change.who.actor, change.key, unit, steps, default=default,
            effective_from=body.effective_from,
        )  # fmt: skip
        return 201, version(done, the_unit)

    return change.run({"op": "rates.set", "unit": unit, **body.model_dump(mode="json")}, work)


@router.post(
    "/rate-cards/{unit}/import",
    status_code=201,
    summary="Add a version of a unit's rate card from CSV",
    responses=answers(201, RateCardVersionOut),
)
def import_rates(unit: str, body: RatesCsvIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        the_unit = change.units.get(unit)
        done = pm.import_rates(
            change.ctx, change.who.actor, change.key, unit, body.csv, body.effective_from
        )
        return 201, version(done, the_unit)

    return change.run({"op": "rates.import", "unit": unit, **body.model_dump(mode="json")}, work)


@router.get(
    "/rate-cards/{unit}/export",
    summary="The rate card in force as CSV",
    responses=answers(200, RatesCsvOut),
)
def export_rates(unit: str, ctx: Ctx, _who: Operator, at: At = None) -> dict[str, Any]:
    when = at or ctx.clock.now()
    current = pm.rates_in_force(ctx, unit, when)
    return {
        "unit": unit,
        "effective_from": current.effective_from.isoformat(),
        "csv": pm.export_rates(ctx, unit, when),
    }


@router.get(
    "/accounts/{ref}/email-rate",
    summary="The credits per recipient an account's e-mails cost",
    responses=answers(200, EmailRateOut),
)
def get_email_rate(
    ref: str,
    ctx: Ctx,
    _who: Operator,
    cache: Units,
    unit: Annotated[str, Query(max_length=32)] = EMAIL,
) -> dict[str, Any]:
    the_unit = cache.get(unit)
    return email_rate(pm.email_rate(ctx, ref, unit), the_unit)


@router.put(
    "/accounts/{ref}/email-rate",
    summary="Set or clear an account's own e-mail rate",
    responses=answers(200, EmailRateOut),
)
def set_account_email_rate(ref: str, body: EmailRateIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        the_unit = change.units.get(body.unit or EMAIL)
        credits = None if body.credits is None else steps_of(body.credits, the_unit, "credits")
        done = pm.set_email_rate(
            change.ctx, change.who.actor, change.key, credits, account=ref, unit=body.unit
        )
        return 200, email_rate(done, the_unit)

    return change.run({"op": "email_rate.account", "ref": ref, **body.model_dump()}, work)


@router.put(
    "/plans/{code}/email-rate",
    summary="Set or clear the e-mail rate of a plan's subscribers",
    responses=answers(200, EmailRateOut),
)
def set_plan_email_rate(code: str, body: PlanEmailRateIn, change: OperatorChangeDep) -> Response:
    def work() -> tuple[int, Any]:
        the_unit = change.units.get(plan_unit(change.ctx, code))
        credits = None if body.credits is None else steps_of(body.credits, the_unit, "credits")
        done = pm.set_email_rate(change.ctx, change.who.actor, change.key, credits, plan=code)
        return 200, email_rate(done, the_unit)

    return change.run({"op": "email_rate.plan", "code": code, **body.model_dump()}, work)


def country_steps(given: dict[str, int | str], unit: Unit) -> dict[str, int]:
    """Rates by upper-cased country code, in steps of ``unit``; a code given twice is refused."""
    found: dict[str, int] = {}
    for country, credits in given.items():
        code = country.strip().upper()
        if code in found:
            raise InvalidInput(f"rates: {code} is given twice", country=code)
        found[code] = steps_of(credits, unit, f"rate for {code}")
    return found


def steps_of(value: int | str, unit: Unit, what: str) -> int:
    """``value`` in steps of ``unit``; a refusal names which amount it is."""
    try:
        return to_steps(value, unit)
    except InvalidAmount as exc:
        raise InvalidAmount(f"{what}: {exc.message}", **exc.details) from exc


def plan_unit(ctx: Context, code: str) -> str:
    with ctx.store.read() as tx:
        return catalogue.plan(tx, code).unit


def version(v: pm.RateCardVersion, unit: Unit) -> dict[str, Any]:
    return {
        "unit": unit.code,
        "effective_from": v.effective_from.isoformat(),
        "rates": rates(v, unit),
        "default": amount(unit, v.default),
    }


def email_rate(r: pm.EmailRate, unit: Unit) -> dict[str, Any]:
    return {
        "account": r.account,
        "plan": r.plan,
        "unit": r.unit,
        "credits": amount(unit, r.credits),
        "source": r.source,
    }
