"""Reading the books (balance, lots, journal) and looking after them (tick, verify)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import RenderableType

import postmeter as pm
from postmeter.cli.options import AccountRef, UnitCode
from postmeter.cli.output import emit_json, record, show, table, when
from postmeter.cli.session import Session, parse_when, session
from postmeter.cli.views import entry_doc, lot_doc, summary_doc
from postmeter.domain.units import Unit
from postmeter.service.accounts import get_account
from postmeter.service.reports import EntryView, LotView, Summary


def register(app: typer.Typer) -> None:
    app.command("balance")(balance)
    app.command("lots")(lots)
    app.command("journal")(journal)
    app.command("tick")(tick)
    app.command("verify")(verify)


def balance(ctx: typer.Context, account: AccountRef, unit: UnitCode) -> None:
    """Balance, reserved, assigned, available, overage; live lots; plan periods and resets."""
    state = session(ctx)
    the_unit = state.unit(unit)
    summary = pm.summary(state.books(), account, unit)
    if state.json:
        emit_json(summary_doc(summary, the_unit))
        return
    tz = get_account(state.books(), account).timezone
    parts: list[RenderableType] = [_totals(summary, the_unit)]
    if summary.periods:
        parts.append(period_table(summary, the_unit, tz))
    parts.append(lot_table(summary.lots, the_unit, tz) if summary.lots else "no live lots")
    show(*parts)


def _totals(summary: Summary, unit: Unit) -> RenderableType:
    return record(
        f"{summary.account} - {unit.code} credits",
        [
            ("balance", unit.format(summary.balance)),
            ("reserved", unit.format(summary.reserved)),
            ("assigned", unit.format(summary.assigned)),
            ("available", unit.format(summary.available)),
            ("overage (billable)", unit.format(summary.overage)),
        ],
    )


def period_table(summary: Summary, unit: Unit, tz: str) -> RenderableType:
    rows = [
        (
            p.plan,
            unit.format(p.left),
            unit.format(p.credits),
            when(p.started_at, tz),
            when(p.next_reset_at, tz),
        )
        for p in summary.periods
    ]
    columns = ["plan", "credits left", "of credits", "period started", "next reset"]
    return table("current plan periods", columns, rows)


def lot_table(
    live: list[LotView], unit: Unit, tz: str, title: str = "live lots, in draw-down order"
) -> RenderableType:
    rows = [
        (
            lot.id,
            lot.source + (f" {lot.package}" if lot.package else ""),
            unit.format(lot.amount),
            unit.format(lot.remaining),
            unit.format(lot.held),
            when(lot.expires_at, tz),
        )
        for lot in live
    ]
    return table(title, ["lot", "source", "amount", "remaining", "held", "expires"], rows)


def lots(ctx: typer.Context, account: AccountRef, unit: UnitCode) -> None:
    """An account's live lots in draw-down order, with remaining and expiry."""
    state = session(ctx)
    the_unit = state.unit(unit)
    live = pm.summary(state.books(), account, unit).lots
    if state.json:
        emit_json({"account": account, "unit": unit, "lots": [lot_doc(x, the_unit) for x in live]})
    else:
        tz = get_account(state.books(), account).timezone
        show(lot_table(live, the_unit, tz, f"{account} - live {unit} lots, in draw-down order"))


def journal(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help="Only this account.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", "-u", help="Only this unit.")] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only this kind: grant, charge, expire...")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this instant (ISO 8601 or a date).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before this instant (ISO 8601 or a date).")
    ] = None,
    after: Annotated[
        int, typer.Option("--after", help="Only entries after this sequence number (paging).")
    ] = 0,
    limit: Annotated[int, typer.Option("--limit", help="At most this many entries.")] = 100,
    why: Annotated[
        bool,
        typer.Option(
            "--why", help="Who made each entry, why, and under which key (instead of lots)."
        ),
    ] = False,
) -> None:
    """The journal, oldest first, filtered; page with --after LAST_SEQ."""
    state = session(ctx)
    entries = pm.journal(
        state.books(),
        account=account,
        unit=unit,
        kind=kind,
        since=parse_when(since, "--since") if since is not None else None,
        until=parse_when(until, "--until") if until is not None else None,
        after_seq=after,
        limit=limit,
    )
    if state.json:
        emit_json({"entries": [entry_doc(e, state.unit(e.unit)) for e in entries]})
        return
    show(_reasons_table(state, entries) if why else _journal_table(state, entries))


def _reasons_table(state: Session, entries: list[EntryView]) -> RenderableType:
    """Each entry's change beside its transaction's actor, reason and idempotency key."""
    columns = ["seq", "at (UTC)", "account", "kind", "delta", "by", "why", "key"]
    rows = [
        (
            e.seq,
            when(e.at, ""),
            e.account,
            e.kind,
            state.unit(e.unit).format(e.delta),
            e.actor,
            e.reason or "",
            e.key,
        )
        for e in entries
    ]
    return table(None, columns, rows)


def _journal_table(state: Session, entries: list[EntryView]) -> RenderableType:
    rows = []
    for e in entries:
        unit = state.unit(e.unit)
        held = unit.format(e.held_delta) if e.held_delta else ""
        rows.append(
            (
                e.seq,
                when(e.at, ""),
                e.account,
                e.unit,
                e.kind,
                e.lot_id,
                unit.format(e.delta),
                held,
                unit.format(e.balance_after),
                e.counterparty,
            )
        )
    columns = [
        "seq",
        "at (UTC)",
        "account",
        "unit",
        "kind",
        "lot",
        "delta",
        "held",
        "balance",
        "from/to",
    ]
    return table(None, columns, rows)


def tick(ctx: typer.Context) -> None:
    """Book everything due by now: renewals, expiries, reservation deadlines."""
    state = session(ctx)
    done = pm.tick(state.books())
    if state.json:
        emit_json(tick_doc(done))
    else:
        show(tick_line(done))


def tick_doc(done: pm.TickReport) -> dict[str, object]:
    return {
        "renewals": done.renewals,
        "expiries": done.expiries,
        "timeouts": done.timeouts,
        "events": done.events,
    }


def tick_line(done: pm.TickReport) -> str:
    """``0 events``, or ``3 events (1 renewals, 2 expiries, 0 timeouts): tick:renew:1:2, ...``."""
    if not done.events:
        return "0 events"
    shown = ", ".join(done.events[:_EVENTS_SHOWN])
    more = len(done.events) - _EVENTS_SHOWN
    return (
        f"{len(done.events)} events ({done.renewals} renewals, {done.expiries} expiries, "
        f"{done.timeouts} timeouts): {shown}" + (f" and {more} more" if more > 0 else "")
    )


_EVENTS_SHOWN = 6  # a tick after a long downtime books hundreds; --json lists them all


def verify(ctx: typer.Context) -> None:
    """Check every invariant of the books; exit 7 naming the first discrepancy."""
    state = session(ctx)
    checked = pm.verify(state.books())
    if state.json:
        emit_json(
            {
                "ok": True,
                "balances": checked.accounts,
                "lots": checked.lots,
                "entries": checked.entries,
            }
        )
    else:
        show(
            f"books balance: {checked.accounts} balances, {checked.lots} lots, "
            f"{checked.entries} journal entries checked"
        )
