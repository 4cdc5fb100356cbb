"""The operator's catalogue: plans (credits per period) and packages (prepaid, with a validity)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select

from postmeter.domain.amounts import check_credits
from postmeter.domain.errors import AlreadyExists, InvalidInput, NotFound
from postmeter.domain.money import cheaper_per_credit
from postmeter.domain.periods import MONTHLY, ROLLING
from postmeter.domain.validate import (
    check_code,
    check_count,
    check_currency,
    check_text,
    is_code,
)
from postmeter.service import lookup
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.store import tables as t
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class Plan:
    code: str
    name: str
    unit: str
    credits: int
    period_kind: str  # "days" (rolling) or "monthly" (calendar, on an anchor day)
    period_days: int | None
    free: bool  # a free allowance: its lots are drawn first
    seats: int
    dedicated_ips: int
    price_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class Package:
    code: str
    name: str
    unit: str
    credits: int
    validity_months: int
    validity_days: int
    price_minor: int
    currency: str
    active: bool


def create_plan(ctx: Context, actor: Actor, key: str, plan: Plan) -> Plan:
    """Add a plan: ``credits`` each period, rolling every ``period_days`` or monthly."""
    _check_plan(plan)
    request = _fields(plan)

    def work(tx: Tx, _txn: int, _now: datetime) -> dict[str, Any]:
        lookup.unit(tx, plan.unit)
        if tx.exists(t.plans, code=plan.code):
            raise AlreadyExists(f"plan {plan.code!r} exists already", plan=plan.code)
        tx.conn.execute(t.plans.insert().values(**request))
        return request

    result, _, _ = run_once(ctx, actor, key, "plan.create", request, work)
    return Plan(**result)


def _check_plan(plan: Plan) -> None:
    check_code(plan.code, "plan code")
    check_text(plan.name, "plan name")
    check_credits(plan.credits)
    if plan.period_kind == ROLLING:
        if plan.period_days is None:
            raise InvalidInput("a rolling plan needs its period length in days")
        check_count(plan.period_days, "period length (days)", low=1, high=3660)
    elif plan.period_kind == MONTHLY:
        if plan.period_days is not None:
            raise InvalidInput("a monthly plan has no period length in days")
    else:
        raise InvalidInput(f"period must be {ROLLING!r} or {MONTHLY!r}", value=plan.period_kind)
    check_count(plan.seats, "seats")
    check_count(plan.dedicated_ips, "dedicated IPs", high=10_000)
    check_credits(plan.price_minor, allow_zero=True)
    check_currency(plan.currency)


def create_package(ctx: Context, actor: Actor, key: str, package: Package) -> Package:
    """Add a package to the catalogue; a bigger package may not cost more per credit."""
    check_code(package.code, "package code")
    check_text(package.name, "package name")
    check_credits(package.credits)
    check_count(package.validity_months, "validity (months)", high=1200)
    check_count(package.validity_days, "validity (days)", high=36_500)
    if package.validity_months == 0 and package.validity_days == 0:
        raise InvalidInput("a package must be valid for some time")
    check_credits(package.price_minor, allow_zero=True)
    check_currency(package.currency)
    request = _fields(package)

    def work(tx: Tx, _txn: int, _now: datetime) -> dict[str, Any]:
        lookup.unit(tx, package.unit)
        if tx.exists(t.packages, code=package.code):
            raise AlreadyExists(f"package {package.code!r} exists already", package=package.code)
        _check_tiers(tx, package)
        tx.conn.execute(t.packages.insert().values(**request))
        return request

    result, _, _ = run_once(ctx, actor, key, "package.create", request, work)
    return Package(**result)


def _check_tiers(tx: Tx, new: Package) -> None:
    """Bigger packages are cheaper (or equal) per credit than smaller ones of the same kind."""
    same_kind = tx.conn.execute(
        select(t.packages).where(
            t.packages.c.unit == new.unit,
            t.packages.c.currency == new.currency,
            t.packages.c.active.is_(True),
        )
    )
    for old in same_kind:
        bigger, smaller = (new, old) if new.credits > old.credits else (old, new)
        if bigger.credits != smaller.credits and not cheaper_per_credit(
            bigger.price_minor, bigger.credits, smaller.price_minor, smaller.credits
        ):
            raise InvalidInput(
                f"package {bigger.code!r} would cost more per credit than the smaller "
                f"{smaller.code!r}: bigger packages must not be dearer per credit",
                package=new.code,
            )


def list_plans(ctx: Context) -> list[Plan]:
    with ctx.store.read() as tx:
        rows = tx.conn.execute(select(t.plans).order_by(t.plans.c.unit, t.plans.c.credits))
        return [_plan(row) for row in rows]


def list_packages(ctx: Context, unit: str | None = None) -> list[Package]:
    with ctx.store.read() as tx:
        query = select(t.packages).order_by(t.packages.c.unit, t.packages.c.credits)
        if unit is not None:
            query = query.where(t.packages.c.unit == check_code(unit, "unit"))
        return [Package(**row._asdict()) for row in tx.conn.execute(query)]


def plan(tx: Tx, code: str) -> Plan:
    row = None
    if is_code(code):
        row = tx.conn.execute(select(t.plans).where(t.plans.c.code == code)).first()
    if row is None:
        raise NotFound(f"no plan {code!r}", plan=code)
    return _plan(row)


def _plan(row: Row[Any]) -> Plan:
    # The plan's e-mail rate is a rating setting, read and set by service/rate_cards.py.
    return Plan(**{name: getattr(row, name) for name in Plan.__dataclass_fields__})


def package(tx: Tx, code: str) -> Row[Any]:
    row = None
    if is_code(code):
        row = tx.conn.execute(select(t.packages).where(t.packages.c.code == code)).first()
    if row is None or not row.active:
        raise NotFound(f"no package {code!r} in the catalogue", package=code)
    return row


def _fields(obj: Plan | Package) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}
