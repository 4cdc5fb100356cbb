"""Accounts, their status and pay-as-you-go, and their plan subscriptions."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import RenderableType

import postmeter as pm
from postmeter.cli.options import AccountRef, Key, Reason, UnitCode
from postmeter.cli.output import emit_json, format_price, record, show, table, when
from postmeter.cli.session import key_or_new, parse_amount, session
from postmeter.cli.views import plain
from postmeter.domain.money import parse_price
from postmeter.service.accounts import get_account, list_accounts
from postmeter.service.subscriptions import cancel, list_subscriptions

account_app = typer.Typer(help="Accounts: the operator's customers.", no_args_is_help=True)
subscription_app = typer.Typer(help="Plan subscriptions.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")
    app.command("subscribe")(subscribe)
    app.add_typer(subscription_app, name="subscription")


@account_app.command("create")
def account_create(
    ctx: typer.Context,
    ref: AccountRef,
    name: Annotated[str, typer.Option("--name", help="The customer's name.")],
    email: Annotated[str, typer.Option("--email", help="The customer's e-mail address.")],
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone for calendar periods.")
    ] = "UTC",
    parent: Annotated[
        str | None, typer.Option("--parent", help="Parent account (a reseller).")
    ] = None,
    key: Key = None,
) -> None:
    """Open an account (with each unit's sign-up credits)."""
    state = session(ctx)
    account = pm.create_account(
        state.books(), state.actor, key_or_new(key), ref, name, email, timezone, parent
    )
    _show_account(state.json, account, "account created")


@account_app.command("show")
def account_show(ctx: typer.Context, ref: AccountRef) -> None:
    """Show an account and its subscriptions."""
    state = session(ctx)
    account = get_account(state.books(), ref)
    subs = list_subscriptions(state.books(), ref)
    if state.json:
        emit_json({**plain(account), "subscriptions": [plain(s) for s in subs]})
        return
    _show_account(False, account, f"account {ref}")
    if subs:
        show(_subscription_table(subs))


@account_app.command("list")
def account_list(
    ctx: typer.Context,
    parent: Annotated[
        str | None, typer.Option("--parent", help="Only the children of this account.")
    ] = None,
) -> None:
    """List accounts."""
    state = session(ctx)
    accounts = list_accounts(state.books(), parent)
    if state.json:
        emit_json({"accounts": [plain(a) for a in accounts]})
        return
    rows = [(a.ref, a.name, a.email, a.timezone, a.status, a.parent) for a in accounts]
    show(table(None, ["ref", "name", "e-mail", "time zone", "status", "parent"], rows))


@account_app.command("status")
def account_status(
    ctx: typer.Context,
    ref: AccountRef,
    status: Annotated[str, typer.Argument(help="active, suspended, blocked or closed.")],
    reason: Reason,
    key: Key = None,
) -> None:
    """Suspend, block, close or reactivate an account."""
    state = session(ctx)
    account = pm.set_status(state.books(), state.actor, key_or_new(key), ref, status, reason)
    _show_account(state.json, account, f"account {ref} is {account.status}")


@account_app.command("payg")
def account_payg(
    ctx: typer.Context,
    ref: AccountRef,
    unit: UnitCode,
    price: Annotated[
        str | None, typer.Option("--price", help="Overage price per --per credits, e.g. 2.00.")
    ] = None,
    per: Annotated[str, typer.Option("--per", help="Credits the price is for.")] = "1",
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217 code.")] = "EUR",
    off: Annotated[bool, typer.Option("--off", help="Switch pay-as-you-go off.")] = False,
    key: Key = None,
) -> None:
    """Switch pay-as-you-go overage on (at a price) or off for an account and unit."""
    state = session(ctx)
    if off == (price is not None):
        raise pm.InvalidInput("give either --price (switch on) or --off")
    the_unit = state.unit(unit)
    terms = None
    if price is not None:
        terms = (parse_price(price, currency), parse_amount(the_unit, per, "--per"), currency)
    result = pm.set_payg(state.books(), state.actor, key_or_new(key), ref, unit, terms)
    payg = None
    if terms is not None:
        minor, per_steps, _ = terms
        payg = {
            "price": format_price(minor, currency),
            "price_minor": minor,
            "currency": currency,
            "per": the_unit.format(per_steps),
            "per_steps": per_steps,
        }
    if state.json:
        emit_json({"account": result["account"], "unit": unit, "payg": payg})
    elif payg is None:
        show(f"pay-as-you-go off for {ref} in {unit}")
    else:
        show(
            f"pay-as-you-go on for {ref} in {unit}: "
            f"{payg['price']} {currency} per {payg['per']} credits beyond the lots"
        )


def _show_account(as_json: bool, account: pm.Account, title: str) -> None:
    if as_json:
        emit_json(plain(account))
        return
    show(
        record(
            title,
            [
                ("ref", account.ref),
                ("name", account.name),
                ("e-mail", account.email),
                ("time zone", account.timezone),
                ("status", account.status),
                ("parent", account.parent or "-"),
                ("created", when(account.created_at)),
            ],
        )
    )


def subscribe(
    ctx: typer.Context,
    account: AccountRef,
    plan: Annotated[str, typer.Argument(help="Plan code.")],
    anchor_day: Annotated[
        int | None,
        typer.Option("--anchor-day", help="Monthly plans: renewal day (default: today's)."),
    ] = None,
    key: Key = None,
) -> None:
    """Subscribe an account to a plan now; the first period's credits are granted at once."""
    state = session(ctx)
    sub = pm.subscribe(
        state.books(), state.actor, key_or_new(key), account, plan, anchor_day=anchor_day
    )
    if state.json:
        emit_json(plain(sub))
    else:
        show(_subscription_table([sub], "subscribed"))


@subscription_app.command("list")
def subscription_list(ctx: typer.Context, account: AccountRef) -> None:
    """List an account's subscriptions."""
    state = session(ctx)
    subs = list_subscriptions(state.books(), account)
    if state.json:
        emit_json({"subscriptions": [plain(s) for s in subs]})
    else:
        show(_subscription_table(subs))


@subscription_app.command("cancel")
def subscription_cancel(
    ctx: typer.Context,
    subscription: Annotated[int, typer.Argument(help="Subscription id.")],
    key: Key = None,
) -> None:
    """Stop renewing; the current period's credits last until the period ends."""
    state = session(ctx)
    sub = cancel(state.books(), state.actor, key_or_new(key), subscription)
    if state.json:
        emit_json(plain(sub))
    else:
        show(_subscription_table([sub], "cancelled"))


def _subscription_table(subs: list[pm.Subscription], title: str | None = None) -> RenderableType:
    rows = [
        (
            s.id,
            s.account,
            s.plan,
            s.status,
            s.period_index,
            when(s.period_start_at),
            when(s.next_renewal_at) if s.status == "active" else "-",
        )
        for s in subs
    ]
    columns = ["id", "account", "plan", "status", "period", "period start", "next renewal"]
    return table(title, columns, rows)
