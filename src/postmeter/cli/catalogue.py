"""The operator's catalogue: units and their policies, plans, packages (and buying one)."""

from __future__ import annotations

from typing import Annotated

import typer

import postmeter as pm
from postmeter.cli.options import AccountRef, Credits, Key, UnitCode
from postmeter.cli.output import emit_json, format_price, record, show, table, when
from postmeter.cli.session import Session, key_or_new, parse_amount, session
from postmeter.cli.views import (
    package_doc,
    period_text,
    plan_doc,
    purchase_doc,
    unit_doc,
    validity_text,
)
from postmeter.domain.money import parse_price
from postmeter.domain.periods import MONTHLY, ROLLING
from postmeter.domain.units import Unit
from postmeter.service.catalogue import list_packages, list_plans
from postmeter.service.units import list_units

unit_app = typer.Typer(
    help="Units credits are counted in, and their policies.", no_args_is_help=True
)
plan_app = typer.Typer(help="Plans: credits per period.", no_args_is_help=True)
package_app = typer.Typer(help="Packages: prepaid credits with a validity.", no_args_is_help=True)

Name = Annotated[str, typer.Option("--name", help="A name people read.")]
Price = Annotated[str, typer.Option("--price", help="Price as a decimal, e.g. 49.90.")]
Currency = Annotated[str, typer.Option("--currency", help="ISO 4217 code, e.g. EUR.")]


def register(app: typer.Typer) -> None:
    app.add_typer(unit_app, name="unit")
    app.add_typer(plan_app, name="plan")
    app.add_typer(package_app, name="package")


@unit_app.command("create")
def unit_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Unit code, e.g. whatsapp.")],
    name: Name,
    scale: Annotated[int, typer.Option("--scale", help="Decimal places of an amount.")] = 0,
    key: Key = None,
) -> None:
    """Add a unit of credit with its scale (decimal places)."""
    state = session(ctx)
    unit = pm.create_unit(state.books(), state.actor, key_or_new(key), code, name, scale)
    _show_unit(state.json, unit, "unit created")


@unit_app.command("list")
def unit_list(ctx: typer.Context) -> None:
    """List the units."""
    state = session(ctx)
    units = list_units(state.books())
    if state.json:
        emit_json({"units": [unit_doc(u) for u in units]})
        return
    rows = [
        (
            u.code,
            u.name,
            u.scale,
            "on" if u.extend_on_purchase else "off",
            u.format(u.signup_credits),
            u.signup_days or "never",
        )
        for u in units
    ]
    columns = ["code", "name", "scale", "extend on purchase", "sign-up credits", "valid days"]
    show(table(None, columns, rows))


@unit_app.command("policy")
def unit_policy(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Unit code.")],
    extend_on_purchase: Annotated[
        bool | None,
        typer.Option(
            "--extend-on-purchase/--no-extend-on-purchase",
            help="Buying a package moves live package lots' expiry out to the new one's.",
            show_default=False,
        ),
    ] = None,
    signup_credits: Annotated[
        str | None,
        typer.Option("--signup-credits", help="Free credits for every new account (0: none)."),
    ] = None,
    signup_days: Annotated[
        int | None,
        typer.Option("--signup-days", help="How long sign-up credits last (0: forever)."),
    ] = None,
    key: Key = None,
) -> None:
    """Set a unit's operator policies: expiry extension on purchase, sign-up credits."""
    state = session(ctx)
    credits = None
    if signup_credits is not None:
        credits = parse_amount(state.unit(code), signup_credits, "--signup-credits", zero=True)
    unit = pm.set_policy(
        state.books(),
        state.actor,
        key_or_new(key),
        code,
        extend_on_purchase=extend_on_purchase,
        signup_credits=credits,
        signup_days=signup_days,
    )
    _show_unit(state.json, unit, "unit policy")


def _show_unit(as_json: bool, unit: Unit, title: str) -> None:
    if as_json:
        emit_json(unit_doc(unit))
        return
    show(
        record(
            title,
            [
                ("code", unit.code),
                ("name", unit.name),
                ("scale", unit.scale),
                ("extend on purchase", "on" if unit.extend_on_purchase else "off"),
                ("sign-up credits", unit.format(unit.signup_credits)),
                ("sign-up validity", f"{unit.signup_days} days" if unit.signup_days else "never"),
            ],
        )
    )


@plan_app.command("create")
def plan_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Plan code.")],
    name: Name,
    unit: UnitCode,
    credits: Credits,
    days: Annotated[
        int | None, typer.Option("--days", help="Rolling period of N days from subscribing.")
    ] = None,
    monthly: Annotated[
        bool, typer.Option("--monthly", help="Calendar months, renewing on an anchor day.")
    ] = False,
    free: Annotated[
        bool, typer.Option("--free", help="A free allowance: its lots are drawn first.")
    ] = False,
    seats: Annotated[
        int, typer.Option("--seats", help="Child accounts allowed; 0: not a reseller plan.")
    ] = 0,
    ips: Annotated[int, typer.Option("--ips", help="Dedicated IPs.")] = 0,
    price: Price = "0",
    currency: Currency = "EUR",
    key: Key = None,
) -> None:
    """Add a plan: CREDITS every --days N (rolling) or every month (--monthly)."""
    state = session(ctx)
    if (days is None) == (not monthly):
        raise pm.InvalidInput("give exactly one of --days N or --monthly")
    plan = pm.Plan(
        code=code,
        name=name,
        unit=unit,
        credits=parse_amount(state.unit(unit), credits),
        period_kind=MONTHLY if monthly else ROLLING,
        period_days=days,
        free=free,
        seats=seats,
        dedicated_ips=ips,
        price_minor=parse_price(price, currency),
        currency=currency,
    )
    created = pm.create_plan(state.books(), state.actor, key_or_new(key), plan)
    if state.json:
        emit_json(plan_doc(created, state.unit(unit)))
    else:
        show(table("plan created", _PLAN_COLUMNS, [_plan_row(created, state.unit(unit))]))


_PLAN_COLUMNS = ["code", "name", "unit", "credits", "period", "seats", "IPs", "price"]


def _plan_row(plan: pm.Plan, unit: Unit) -> tuple[object, ...]:
    return (
        plan.code,
        plan.name + (" (free allowance)" if plan.free else ""),
        plan.unit,
        unit.format(plan.credits),
        period_text(plan),
        plan.seats,
        plan.dedicated_ips,
        f"{format_price(plan.price_minor, plan.currency)} {plan.currency}",
    )


@plan_app.command("list")
def plan_list(ctx: typer.Context) -> None:
    """List the plans."""
    state = session(ctx)
    plans = list_plans(state.books())
    if state.json:
        emit_json({"plans": [plan_doc(p, state.unit(p.unit)) for p in plans]})
    else:
        show(table(None, _PLAN_COLUMNS, [_plan_row(p, state.unit(p.unit)) for p in plans]))


@package_app.command("create")
def package_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Package code.")],
    name: Name,
    unit: UnitCode,
    credits: Credits,
    price: Price,
    currency: Currency,
    months: Annotated[int, typer.Option("--months", help="Validity in months.")] = 0,
    days: Annotated[int, typer.Option("--days", help="Validity in days (added to months).")] = 0,
    key: Key = None,
) -> None:
    """Add a package: CREDITS valid --months/--days, at --price; bigger may not cost more."""
    state = session(ctx)
    package = pm.Package(
        code=code,
        name=name,
        unit=unit,
        credits=parse_amount(state.unit(unit), credits),
        validity_months=months,
        validity_days=days,
        price_minor=parse_price(price, currency),
        currency=currency,
        active=True,
    )
    created = pm.create_package(state.books(), state.actor, key_or_new(key), package)
    if state.json:
        emit_json(package_doc(created, state.unit(unit)))
    else:
        show(table("package created", _PACKAGE_COLUMNS, [_package_row(created, state)]))


_PACKAGE_COLUMNS = ["code", "name", "unit", "credits", "validity", "price"]


def _package_row(package: pm.Package, state: Session) -> tuple[object, ...]:
    return (
        package.code,
        package.name,
        package.unit,
        state.unit(package.unit).format(package.credits),
        validity_text(package.validity_months, package.validity_days),
        f"{format_price(package.price_minor, package.currency)} {package.currency}",
    )


@package_app.command("list")
def package_list(
    ctx: typer.Context,
    unit: Annotated[str | None, typer.Option("--unit", "-u", help="Only this unit.")] = None,
) -> None:
    """List the packages of the catalogue."""
    state = session(ctx)
    packages = list_packages(state.books(), unit)
    if state.json:
        emit_json({"packages": [package_doc(p, state.unit(p.unit)) for p in packages]})
    else:
        show(table(None, _PACKAGE_COLUMNS, [_package_row(p, state) for p in packages]))


@package_app.command("buy")
def package_buy(
    ctx: typer.Context,
    account: AccountRef,
    package: Annotated[str, typer.Argument(help="Package code.")],
    key: Key = None,
) -> None:
    """Buy a package for an account: its own lot, with the package's validity."""
    state = session(ctx)
    bought = pm.buy(state.books(), state.actor, key_or_new(key), account, package)
    unit = state.unit(bought.unit)
    if state.json:
        emit_json(purchase_doc(bought, unit))
        return
    extended = ", ".join(str(lot) for lot in bought.extended_lots) or "none"
    show(
        record(
            f"{account} bought {package}",
            [
                ("credits", f"{unit.format(bought.credits)} {bought.unit}"),
                ("lot", bought.lot_id),
                ("expires", when(bought.expires_at)),
                ("price", f"{format_price(bought.price_minor, bought.currency)} {bought.currency}"),
                ("lots extended to this expiry", extended),
            ],
        )
    )
