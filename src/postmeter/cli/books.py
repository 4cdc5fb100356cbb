"""Changing the books by hand and by send: grants, corrections, charges, reservations."""

from __future__ import annotations

from typing import Annotated

import typer

import postmeter as pm
from postmeter.cli.options import AccountRef, Credits, Key, Reason, UnitCode
from postmeter.cli.output import emit_json, record, show, when
from postmeter.cli.session import Session, key_or_new, parse_amount, parse_when, session
from postmeter.cli.views import charge_doc, grant_doc, reservation_doc
from postmeter.domain import lots as lot_sources
from postmeter.domain.units import Unit
from postmeter.service.grants import Grant
from postmeter.service.reservations import get_reservation

ReservationId = Annotated[int, typer.Argument(help="Reservation id (from reserve).")]


def register(app: typer.Typer) -> None:
    app.command("grant")(grant)
    app.command("correct")(correct)
    app.command("charge")(charge)
    app.command("reserve")(reserve)
    app.command("capture")(capture)
    app.command("release")(release)


def grant(
    ctx: typer.Context,
    account: AccountRef,
    unit: UnitCode,
    credits: Credits,
    reason: Reason,
    adjustment: Annotated[
        bool,
        typer.Option(
            "--adjustment", help="An operator adjustment (default: a free allowance, drawn first)."
        ),
    ] = False,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Expiry (ISO 8601 or a date); default never.")
    ] = None,
    key: Key = None,
) -> None:
    """Give an account credits as a new lot, with a reason."""
    state = session(ctx)
    steps = parse_amount(state.unit(unit), credits)
    expires_at = parse_when(expires, "--expires") if expires is not None else None
    given = pm.grant(
        state.books(),
        state.actor,
        key_or_new(key),
        account,
        unit,
        steps,
        source=lot_sources.ADJUSTMENT if adjustment else lot_sources.FREE,
        expires_at=expires_at,
        reason=reason,
    )
    _show_grant(state, given, f"granted to {account}")


def correct(
    ctx: typer.Context,
    account: AccountRef,
    unit: UnitCode,
    credits: Credits,
    reason: Reason,
    key: Key = None,
) -> None:
    """Take back credits that should not be there (in draw-down order), with a reason."""
    state = session(ctx)
    steps = parse_amount(state.unit(unit), credits)
    with state.shortfall_in(unit, account):
        taken = pm.correct_down(
            state.books(), state.actor, key_or_new(key), account, unit, steps, reason=reason
        )
    _show_grant(state, taken, f"taken back from {account}")


def _show_grant(state: Session, given: Grant, title: str) -> None:
    unit = state.unit(given.unit)
    if state.json:
        emit_json(grant_doc(given, unit))
        return
    show(
        record(
            title,
            [
                ("credits", f"{unit.format(given.credits)} {given.unit}"),
                ("lot", given.lot_id if given.lot_id is not None else "-"),
                ("balance", unit.format(given.balance)),
                ("available", unit.format(given.available)),
            ],
        )
    )


def charge(
    ctx: typer.Context,
    account: AccountRef,
    unit: UnitCode,
    credits: Credits,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Your id for the send (message, campaign).")
    ] = None,
    sender: Annotated[
        str | None,
        typer.Option(
            "--sender", help="The account's domain or list that sends (its limits apply)."
        ),
    ] = None,
    key: Key = None,
) -> None:
    """Charge one send: draw its credits in draw-down order, or refuse with the shortfall."""
    state = session(ctx)
    the_unit = state.unit(unit)
    request = pm.ChargeRequest(
        key_or_new(key), account, unit, parse_amount(the_unit, credits), reference, sender
    )
    with state.shortfall_in(unit, account):
        done = pm.charge(state.books(), state.actor, request)
    if state.json:
        emit_json(charge_doc(done, the_unit))
    else:
        show(charge_line(done, the_unit))


def charge_line(done: pm.Charge, unit: Unit) -> str:
    """``charged 250 email to acme: lot 3 200, lot 5 50; balance 750, available 750``."""
    drawn = ", ".join(f"lot {lot} {unit.format(n)}" for lot, n in done.drawn) or "no lots"
    overage = f", overage {unit.format(done.overage)}" if done.overage else ""
    replayed = " (replayed: key seen before, nothing new charged)" if done.replayed else ""
    return (
        f"charged {unit.format(done.credits)} {done.unit} to {done.account}: {drawn}{overage}; "
        f"balance {unit.format(done.balance)}, available {unit.format(done.available)}{replayed}"
    )


def reserve(
    ctx: typer.Context,
    account: AccountRef,
    unit: UnitCode,
    credits: Credits,
    deadline: Annotated[
        str, typer.Option("--deadline", help="Released by itself then (ISO 8601 or a date).")
    ],
    key: Key = None,
) -> None:
    """Hold credits for a scheduled send until it is captured, released or its deadline."""
    state = session(ctx)
    the_unit = state.unit(unit)
    steps = parse_amount(the_unit, credits)
    deadline_at = parse_when(deadline, "--deadline")
    with state.shortfall_in(unit, account):
        res = pm.reserve(
            state.books(), state.actor, key_or_new(key), account, unit, steps, deadline_at
        )
    _show_reservation(state, res, f"reservation {res.id}")


def capture(
    ctx: typer.Context,
    reservation: ReservationId,
    credits: Annotated[
        str, typer.Option("--credits", "-c", help="What the send really cost (may be 0).")
    ],
    key: Key = None,
) -> None:
    """The send went out: spend its real cost, give the rest back to the lots it came from."""
    state = session(ctx)
    held = get_reservation(state.books(), reservation)
    steps = parse_amount(state.unit(held.unit), credits, zero=True)
    with state.shortfall_in(held.unit, held.account):
        res = pm.capture(state.books(), state.actor, key_or_new(key), reservation, steps)
    _show_reservation(state, res, f"reservation {res.id} captured")


def release(ctx: typer.Context, reservation: ReservationId, key: Key = None) -> None:
    """The send was cancelled: give all the held credits back."""
    state = session(ctx)
    res = pm.release(state.books(), state.actor, key_or_new(key), reservation)
    _show_reservation(state, res, f"reservation {res.id} released")


def _show_reservation(state: Session, res: pm.Reservation, title: str) -> None:
    unit = state.unit(res.unit)
    if state.json:
        emit_json(reservation_doc(res, unit))
        return
    captured = unit.format(res.captured) if res.captured is not None else "-"
    show(
        record(
            title,
            [
                ("account", res.account),
                ("credits", f"{unit.format(res.credits)} {res.unit}"),
                ("held", unit.format(res.held)),
                ("status", res.status),
                ("deadline", when(res.deadline_at)),
                ("captured", captured),
                ("available now", unit.format(res.available)),
            ],
        )
    )
