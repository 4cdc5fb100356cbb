"""Rating: rate cards, e-mail rates, quotes, sends charged by their content, and campaigns.

An SMS is given as ``--text`` and its numbers (``--to`` again and again, or ``--to-file``, one
number a line); an e-mail as ``--recipients N``. Numbers are E.164, or national numbers of
``--region``. ``--partial`` leaves out the numbers that cannot be priced (and lists them)
instead of refusing the whole send.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import RenderableType

import postmeter as pm
from postmeter.cli.options import AccountRef, Key, UnitCode
from postmeter.cli.output import amount, emit_json, record, show, table, when
from postmeter.cli.session import Session, key_or_new, parse_amount, parse_when, session
from postmeter.cli.views import charge_doc
from postmeter.domain.errors import InvalidInput
from postmeter.domain.rating import QuoteLine
from postmeter.domain.units import Unit
from postmeter.service.catalogue import list_plans

rates_app = typer.Typer(
    help="Rate cards: credits per SMS part to each country, in dated versions.",
    no_args_is_help=True,
)
campaign_app = typer.Typer(
    help="Campaigns: sends scheduled for later, their quoted cost held until then.",
    no_args_is_help=True,
)

Text = Annotated[str | None, typer.Option("--text", help="The SMS text.")]
To = Annotated[
    list[str] | None, typer.Option("--to", help="A phone number (repeat the option for more).")
]
ToFile = Annotated[
    str | None, typer.Option("--to-file", help="A file of phone numbers, one a line; - for stdin.")
]
Region = Annotated[
    str | None, typer.Option("--region", help="Country of numbers written nationally, e.g. FR.")
]
Partial = Annotated[
    bool,
    typer.Option("--partial", help="Leave out (and list) the numbers that cannot be priced."),
]
Recipients = Annotated[
    int | None, typer.Option("--recipients", help="An e-mail: how many recipients.")
]
At = Annotated[
    str | None, typer.Option("--at", help="At this instant (ISO 8601 or a date); default now.")
]
CampaignId = Annotated[int, typer.Argument(help="Campaign id (from campaign schedule).")]


def register(app: typer.Typer) -> None:
    app.add_typer(rates_app, name="rates")
    app.command("email-rate")(email_rate)
    app.command("quote")(quote)
    app.command("packages-per-country")(packages_per_country)
    app.command("send")(send)
    app.add_typer(campaign_app, name="campaign")


# -- rate cards and e-mail rates -------------------------------------------------------------


@rates_app.command("import")
def rates_import(
    ctx: typer.Context,
    unit: Annotated[str, typer.Argument(help="Unit code, e.g. sms.")],
    file: Annotated[str, typer.Argument(help="CSV country,credits (* for the default); - stdin.")],
    starts: Annotated[
        str | None,
        typer.Option("--from", help="In force from this instant (now or later); default now."),
    ] = None,
    key: Key = None,
) -> None:
    """Load a CSV price list as a new version of the unit's rate card."""
    state = session(ctx)
    effective_from = None if starts is None else parse_when(starts, "--from")
    version = pm.import_rates(
        state.books(), state.actor, key_or_new(key), unit, _read(file), effective_from
    )
    _show_rates(state, unit, version, f"{unit} rate card from {when(_iso(version))}")


@rates_app.command("set")
def rates_set(
    ctx: typer.Context,
    unit: Annotated[str, typer.Argument(help="Unit code, e.g. sms.")],
    rate: Annotated[
        list[str] | None,
        typer.Option("--rate", help="COUNTRY=CREDITS per SMS part, e.g. FR=0.75 (repeat it)."),
    ] = None,
    default: Annotated[
        str | None, typer.Option("--default", help="Credits per part to any other country.")
    ] = None,
    starts: Annotated[
        str | None,
        typer.Option("--from", help="In force from this instant (now or later); default now."),
    ] = None,
    key: Key = None,
) -> None:
    """Set a new version of the unit's rate card from --rate options instead of a file."""
    state = session(ctx)
    the_unit = state.unit(unit)
    rates: dict[str, int] = {}
    for given in rate or []:
        country, sep, credits = given.partition("=")
        if not sep:
            raise InvalidInput(f"--rate {given!r}: write COUNTRY=CREDITS, e.g. FR=0.75")
        code = country.strip().upper()
        if code in rates:
            raise InvalidInput(f"--rate: {code} is given twice")
        rates[code] = parse_amount(the_unit, credits, f"--rate {code}")
    steps = None if default is None else parse_amount(the_unit, default, "--default")
    effective_from = None if starts is None else parse_when(starts, "--from")
    version = pm.set_rates(
        state.books(), state.actor, key_or_new(key), unit, rates, default=steps,
        effective_from=effective_from,
    )  # fmt: skip
    _show_rates(state, unit, version, f"{unit} rate card from {when(_iso(version))}")


@rates_app.command("export")
def rates_export(ctx: typer.Context, unit: Annotated[str, typer.Argument()], at: At = None) -> None:
    """Print the card in force (now, or --at) as CSV, as `rates import` reads it."""
    state = session(ctx)
    instant = None if at is None else parse_when(at, "--at")
    if state.json:
        version = pm.rates_in_force(state.books(), unit, instant)
        emit_json(_rates_doc(state.unit(unit), version))
        return
    sys.stdout.write(pm.export_rates(state.books(), unit, instant))


@rates_app.command("show")
def rates_show(ctx: typer.Context, unit: Annotated[str, typer.Argument()], at: At = None) -> None:
    """The card in force (now, or --at), and every version of the unit's card."""
    state = session(ctx)
    books = state.books()
    instant = None if at is None else parse_when(at, "--at")
    version = pm.rates_in_force(books, unit, instant)
    card = pm.rate_card(books, unit)
    if state.json:
        versions = [_rates_doc(state.unit(unit), v) for v in card.versions]
        emit_json({**_rates_doc(state.unit(unit), version), "versions": versions})
        return
    _show_rates(state, unit, version, f"{unit} rate card in force, from {when(_iso(version))}")
    rows = [
        (when(_iso(v)), len(v.rates), _default(state.unit(unit), v), _mark(v, version))
        for v in card.versions
    ]
    show(table("versions", ["from", "countries", "default", ""], rows))


def email_rate(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help="This account's rate.")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="This plan's rate.")] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", "-u", help="Unit (default: email, or the plan's).")
    ] = None,
    credits: Annotated[
        str | None, typer.Option("--credits", "-c", help="Credits per recipient, e.g. 2.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the rate set here.")] = False,
    key: Key = None,
) -> None:
    """Set (-c) or clear (--clear) the credits per e-mail recipient of an account or a plan; an
    account's own rate wins over its plan's, else 1. With --account only: show its rate."""
    state = session(ctx)
    books = state.books()
    if credits is None and not clear:
        if account is None or plan is not None:
            raise InvalidInput("give --credits or --clear to set a rate; --account alone shows it")
        _show_email_rate(state, pm.email_rate(books, account, unit or "email"))
        return
    if credits is not None and clear:
        raise InvalidInput("give --credits or --clear, not both")
    if (account is None) == (plan is None):
        raise InvalidInput("set the rate of an --account or of a --plan, one of them")
    steps = None
    if credits is not None:
        unit_code = unit or (_plan_unit(state, plan) if plan is not None else "email")
        steps = parse_amount(state.unit(unit_code), credits)
    done = pm.set_email_rate(
        books, state.actor, key_or_new(key), steps, account=account, plan=plan, unit=unit
    )
    _show_email_rate(state, done)


def _plan_unit(state: Session, code: str) -> str:
    found = [p for p in list_plans(state.books()) if p.code == code]
    if not found:
        raise pm.NotFound(f"no plan {code!r}", plan=code)
    return found[0].unit


_ORIGIN = {"account": "its own", "plan": "its plan's", "default": "the default"}


def _show_email_rate(state: Session, rate: pm.EmailRate) -> None:
    unit = state.unit(rate.unit)
    if state.json:
        emit_json(
            {
                "account": rate.account,
                "plan": rate.plan,
                "unit": rate.unit,
                **amount(unit, "credits", rate.credits),
                "source": rate.source,
            }
        )
        return
    if rate.account is None:
        if rate.credits is None:
            show(f"plan {rate.plan}: no e-mail rate of its own (1 credit per recipient)")
        else:
            show(f"plan {rate.plan}: {unit.format(rate.credits)} {rate.unit} credits per recipient")
        return
    assert rate.credits is not None, "an account always has a rate to pay"
    show(
        f"account {rate.account}: {unit.format(rate.credits)} {rate.unit} credits per recipient "
        f"({_ORIGIN[rate.source]})"
    )


def _show_rates(state: Session, unit: str, version: pm.RateCardVersion, title: str) -> None:
    the_unit = state.unit(unit)
    if state.json:
        emit_json(_rates_doc(the_unit, version))
        return
    rows: list[tuple[str, str]] = [(c, the_unit.format(n)) for c, n in version.rates.items()]
    if version.default is not None:
        rows.append((_country("*"), the_unit.format(version.default)))
    show(table(title, ["country", "credits"], rows))


def _country(code: str) -> str:
    return "* (any other)" if code == "*" else code


def _rates_doc(unit: Unit, version: pm.RateCardVersion) -> dict[str, Any]:
    return {
        "unit": unit.code,
        "effective_from": _iso(version),
        "rates": [{"country": c, **amount(unit, "credits", n)} for c, n in version.rates.items()],
        **amount(unit, "default", version.default),
    }


def _default(unit: Unit, version: pm.RateCardVersion) -> str:
    return "-" if version.default is None else unit.format(version.default)


def _mark(version: pm.RateCardVersion, current: pm.RateCardVersion) -> str:
    if version.effective_from == current.effective_from:
        return "in force"
    return "to come" if version.effective_from > current.effective_from else ""


def _iso(version: pm.RateCardVersion) -> str:
    return version.effective_from.isoformat()


# -- quotes and sends ------------------------------------------------------------------------


def quote(
    ctx: typer.Context,
    account: AccountRef,
    unit: UnitCode,
    text: Text = None,
    to: To = None,
    to_file: ToFile = None,
    region: Region = None,
    partial: Partial = False,
    recipients: Recipients = None,
    at: At = None,
) -> None:
    """What a message would cost, country by country; nothing is charged."""
    state = session(ctx)
    message = _message(text, to, to_file, region, partial, recipients)
    instant = None if at is None else parse_when(at, "--at")
    priced = pm.quote(state.books(), account, unit, message, at=instant)
    if state.json:
        emit_json(priced_doc(priced, state.unit(unit)))
        return
    show(*priced_view(priced, state.unit(unit), f"quote for {account}"))


def send(
    ctx: typer.Context,
    account: AccountRef,
    unit: UnitCode,
    text: Text = None,
    to: To = None,
    to_file: ToFile = None,
    region: Region = None,
    partial: Partial = False,
    recipients: Recipients = None,
    sender: Annotated[
        str | None, typer.Option("--sender", help="The account's list or domain that sends.")
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Your id for the send.")
    ] = None,
    key: Key = None,
) -> None:
    """Price a message by the rates in force now and charge it, all or nothing: one charge per
    destination country (key KEY:CC), each named in the journal."""
    state = session(ctx)
    message = _message(text, to, to_file, region, partial, recipients)
    request = pm.SendRequest(
        key_or_new(key), account, unit, message.text, message.numbers, message.recipients,
        message.default_region, message.partial, sender, reference,
    )  # fmt: skip
    with state.shortfall_in(unit, account):
        sent = pm.send(state.books(), state.actor, request)
    the_unit = state.unit(unit)
    if state.json:
        emit_json(sent_doc(sent, the_unit))
        return
    replayed = " (replayed: key seen before, nothing new charged)" if sent.replayed else ""
    show(
        f"charged {the_unit.format(sent.credits)} {unit} to {account} for "
        f"{sent.priced.recipients} recipients; balance {the_unit.format(sent.balance)}, "
        f"available {the_unit.format(sent.available)}{replayed}",
        _charges_table(sent, the_unit),
        *_refused_view(sent.priced),
    )


def packages_per_country(ctx: typer.Context, unit: UnitCode, at: At = None) -> None:
    """How many single-part SMS each catalogue package buys, per country of the card in force."""
    state = session(ctx)
    instant = None if at is None else parse_when(at, "--at")
    found = pm.packages_per_country(state.books(), unit, instant)
    if state.json:
        emit_json({"unit": unit, "packages": [{"package": p.package, "sms": p.sms} for p in found]})
        return
    version = pm.rates_in_force(state.books(), unit, instant)
    the_unit = state.unit(unit)
    countries = [*version.rates, *(["*"] if version.default is not None else [])]
    rates = {**version.rates, "*": version.default}
    rows = [
        (_country(c), the_unit.format(rates[c] or 0), *(p.sms[c] for p in found)) for c in countries
    ]
    columns = ["country", "credits per SMS"]
    columns += [f"{p.package} ({the_unit.format(p.credits)})" for p in found]
    show(table(f"single-part SMS per package, card from {when(_iso(version))}", columns, rows))


def priced_doc(priced: pm.Priced, unit: Unit) -> dict[str, Any]:
    return {
        "account": priced.account,
        "unit": priced.unit,
        **amount(unit, "credits", priced.credits),
        "recipients": priced.recipients,
        "parts": priced.parts,
        "encoding": priced.encoding,
        **amount(unit, "rate", priced.rate),
        "rates_from": priced.rates_from,
        "priced_at": priced.priced_at,
        "lines": [
            {
                "country": line.country,
                "recipients": line.recipients,
                "parts": line.parts,
                **amount(unit, "rate", line.rate),
                **amount(unit, "credits", line.credits),
            }
            for line in priced.lines
        ],
        "refused": [r.as_detail() for r in priced.refused],
    }


def sent_doc(sent: pm.Sent, unit: Unit) -> dict[str, Any]:
    countries: list[str | None] = [line.country for line in sent.priced.lines] or [None]
    return {
        **priced_doc(sent.priced, unit),
        "charges": [
            {"country": country, **charge_doc(charge, unit)}
            for country, charge in zip(countries, sent.charges, strict=True)
        ],
        **amount(unit, "balance", sent.balance),
        **amount(unit, "available", sent.available),
        "replayed": sent.replayed,
    }


def priced_view(priced: pm.Priced, unit: Unit, title: str) -> list[RenderableType]:
    """A price as people read it: a summary line, the lines by country, the numbers left out."""
    if priced.rate is not None:
        return [
            f"{title}: {unit.format(priced.credits)} {priced.unit} for {priced.recipients} "
            f"recipients at {unit.format(priced.rate)} each"
        ]
    head = (
        f"{title}: {unit.format(priced.credits)} {priced.unit} for {priced.recipients} "
        f"recipients, {priced.parts} part{'' if priced.parts == 1 else 's'} each "
        f"({priced.encoding}), by the card from "
        f"{when(priced.rates_from)}"
    )
    rows = [
        (line.country, line.recipients, line.parts, unit.format(line.rate),
         unit.format(line.credits))
        for line in priced.lines
    ]  # fmt: skip
    return [
        head,
        table(None, ["country", "recipients", "parts", "rate", "credits"], rows),
        *_refused_view(priced),
    ]


def _charges_table(sent: pm.Sent, unit: Unit) -> RenderableType:
    priced = sent.priced
    lines = priced.lines or [QuoteLine("-", priced.recipients, 0, 0, priced.credits)]
    rows = []
    for line, charge in zip(lines, sent.charges, strict=True):
        drawn = ", ".join(f"lot {lot} {unit.format(n)}" for lot, n in charge.drawn)
        if charge.overage:
            drawn += f", overage {unit.format(charge.overage)}"
        rows.append(
            (line.country, line.recipients, line.parts or "-", unit.format(charge.credits),
             charge.txn_id, drawn)
        )  # fmt: skip
    return table(None, ["country", "recipients", "parts", "credits", "txn", "drawn"], rows)


def _refused_view(priced: pm.Priced) -> list[RenderableType]:
    if not priced.refused:
        return []
    rows = [(r.number, r.reason, r.country or "") for r in priced.refused]
    return [table("left out (cannot be priced)", ["number", "reason", "country"], rows)]


def _message(
    text: str | None,
    to: list[str] | None,
    to_file: str | None,
    region: str | None,
    partial: bool,
    recipients: int | None,
) -> pm.Message:
    numbers = [*(to or []), *(_numbers_file(to_file) if to_file is not None else [])]
    return pm.Message(text, numbers, recipients, region, partial).check()


def _numbers_file(path: str) -> list[str]:
    """One number a line; blank lines and lines starting with # are skipped."""
    lines = (line.strip() for line in _read(path).splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", file=path) from exc


# -- campaigns -------------------------------------------------------------------------------


@campaign_app.command("schedule")
def campaign_schedule(
    ctx: typer.Context,
    account: AccountRef,
    unit: UnitCode,
    deadline: Annotated[
        str, typer.Option("--deadline", help="Released by itself if not sent by then.")
    ],
    text: Text = None,
    to: To = None,
    to_file: ToFile = None,
    region: Region = None,
    partial: Partial = False,
    recipients: Recipients = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Your id for the campaign.")
    ] = None,
    key: Key = None,
) -> None:
    """Quote a send by the rates in force now and hold that cost until it is sent."""
    state = session(ctx)
    message = _message(text, to, to_file, region, partial, recipients)
    request = pm.SendRequest(
        key_or_new(key), account, unit, message.text, message.numbers, message.recipients,
        message.default_region, message.partial, None, reference,
    )  # fmt: skip
    deadline_at = parse_when(deadline, "--deadline")
    with state.shortfall_in(unit, account):
        done = pm.schedule_campaign(state.books(), state.actor, request, deadline_at)
    _show_campaign(state, done, f"campaign {done.id} scheduled")


@campaign_app.command("send")
def campaign_send(ctx: typer.Context, campaign: CampaignId, key: Key = None) -> None:
    """Send it: price it by the rates in force now, capture that, release the rest."""
    state = session(ctx)
    books = state.books()
    held = pm.get_campaign(books, campaign)
    with state.shortfall_in(held.unit, held.account):
        done = pm.send_campaign(books, state.actor, key_or_new(key), campaign)
    _show_campaign(state, done, f"campaign {done.id} sent")


@campaign_app.command("cancel")
def campaign_cancel(ctx: typer.Context, campaign: CampaignId, key: Key = None) -> None:
    """Call it off: everything it holds goes back to the lots it came from."""
    state = session(ctx)
    done = pm.cancel_campaign(state.books(), state.actor, key_or_new(key), campaign)
    _show_campaign(state, done, f"campaign {done.id} cancelled")


@campaign_app.command("show")
def campaign_show(ctx: typer.Context, campaign: CampaignId) -> None:
    """A campaign: its message, status, what it holds, its prices when scheduled and sent."""
    state = session(ctx)
    done = pm.get_campaign(state.books(), campaign)
    _show_campaign(state, done, f"campaign {done.id}")


@campaign_app.command("list")
def campaign_list(ctx: typer.Context, account: AccountRef) -> None:
    """An account's campaigns, oldest first."""
    state = session(ctx)
    found = pm.list_campaigns(state.books(), account)
    if state.json:
        emit_json({"campaigns": [campaign_doc(c, state.unit(c.unit)) for c in found]})
        return
    rows = []
    for c in found:
        unit = state.unit(c.unit)
        captured = "-" if c.captured is None else unit.format(c.captured)
        rows.append(
            (c.id, c.status, c.unit, c.quote.recipients, unit.format(c.reserved), captured,
             when(c.deadline_at), c.reference or "")
        )  # fmt: skip
    columns = ["id", "status", "unit", "recipients", "reserved", "captured", "deadline", "ref"]
    show(table(None, columns, rows))


def campaign_doc(c: pm.Campaign, unit: Unit) -> dict[str, Any]:
    return {
        "id": c.id,
        "account": c.account,
        "unit": c.unit,
        "status": c.status,
        "deadline_at": c.deadline_at,
        **amount(unit, "reserved", c.reserved),
        **amount(unit, "captured", c.captured),
        "text": c.text,
        "numbers": list(c.numbers),
        "recipients": c.recipients,
        "default_region": c.default_region,
        "partial": c.partial,
        "reference": c.reference,
        "created_at": c.created_at,
        "quote": priced_doc(c.quote, unit),
        "sent_quote": None if c.sent_quote is None else priced_doc(c.sent_quote, unit),
    }


def _show_campaign(state: Session, c: pm.Campaign, title: str) -> None:
    unit = state.unit(c.unit)
    if state.json:
        emit_json(campaign_doc(c, unit))
        return
    captured = "-" if c.captured is None else f"{unit.format(c.captured)} {c.unit}"
    parts: list[RenderableType] = [
        record(
            title,
            [
                ("account", c.account),
                ("status", c.status),
                ("reserved", f"{unit.format(c.reserved)} {c.unit}"),
                ("captured", captured),
                ("deadline", when(c.deadline_at)),
                ("reference", c.reference or "-"),
            ],
        ),
        *priced_view(c.quote, unit, f"quoted {when(c.quote.priced_at)}"),
    ]
    if c.sent_quote is not None:
        parts += priced_view(c.sent_quote, unit, f"priced to send {when(c.sent_quote.priced_at)}")
    show(*parts)
