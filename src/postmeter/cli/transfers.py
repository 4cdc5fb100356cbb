"""Child accounts: credits a reseller adds to a child or takes back, their history, the reseller's
books (A = B + C + D and the plan summary), and moving an account inside its tree."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import RenderableType

import postmeter as pm
from postmeter.cli.accounts import account_app
from postmeter.cli.options import AccountRef, Credits, Key, UnitCode
from postmeter.cli.output import amount, emit_json, record, show, table, when
from postmeter.cli.session import Session, key_or_new, parse_amount, session
from postmeter.cli.views import plain
from postmeter.domain.units import Unit

Parent = Annotated[str, typer.Argument(help="The parent account (the reseller).")]
Child = Annotated[str, typer.Argument(help="Its direct child account.")]
OptionalReason = Annotated[
    str | None, typer.Option("--reason", help="Why (optional): kept in the journal.")
]


def register(app: typer.Typer) -> None:
    app.command("transfer")(transfer)
    app.command("take-back")(take_back)
    app.command("transfers")(transfers)
    app.command("reseller")(reseller)
    account_app.command("move")(account_move)


def transfer(
    ctx: typer.Context,
    parent: Parent,
    child: Child,
    unit: UnitCode,
    credits: Credits,
    reason: OptionalReason = None,
    key: Key = None,
) -> None:
    """Add credits to a child account: they never expire in the child."""
    _move(ctx, pm.transfer, parent, child, unit, credits, reason, key)


def take_back(
    ctx: typer.Context,
    parent: Parent,
    child: Child,
    unit: UnitCode,
    credits: Credits,
    reason: OptionalReason = None,
    key: Key = None,
) -> None:
    """Take back credits a child was given and has neither spent nor reserved."""
    _move(ctx, pm.take_back, parent, child, unit, credits, reason, key)


def _move(
    ctx: typer.Context,
    operation: Callable[..., pm.Transfer],
    parent: str,
    child: str,
    unit: str,
    credits: str,
    reason: str | None,
    key: str | None,
) -> None:
    """Move credits between a parent and its child (``pm.transfer`` or ``pm.take_back``)."""
    state = session(ctx)
    steps = parse_amount(state.unit(unit), credits)
    with _in_credits(state, unit):
        done = operation(
            state.books(), state.actor, key_or_new(key), parent, child, unit, steps, reason=reason
        )
    _show_transfer(state, done)


@contextmanager
def _in_credits(state: Session, unit: str) -> Iterator[None]:
    """A refusal's shortfall and available in credits of the unit beside their steps; the
    message, which the service already says in credits, is kept."""
    try:
        yield
    except pm.InsufficientCredits as exc:
        details = dict(exc.details)
        the_unit = state.unit(unit)
        for name in ("shortfall", "available"):
            steps = details.pop(name, None)
            if isinstance(steps, int):
                details.update(amount(the_unit, name, steps))
        raise pm.InsufficientCredits(exc.message, **details) from exc


def transfer_doc(done: pm.Transfer, unit: Unit) -> dict[str, Any]:
    return {
        "txn_id": done.txn_id,
        "parent": done.parent,
        "child": done.child,
        "unit": done.unit,
        **amount(unit, "credits", done.credits),
        "drawn": [{"lot_id": lot, **amount(unit, "credits", n)} for lot, n in done.drawn],
        "lot_id": done.lot_id,
        **amount(unit, "parent_balance", done.parent_balance),
        **amount(unit, "parent_available", done.parent_available),
        **amount(unit, "child_balance", done.child_balance),
        **amount(unit, "child_available", done.child_available),
        "replayed": done.replayed,
    }


def _show_transfer(state: Session, done: pm.Transfer) -> None:
    unit = state.unit(done.unit)
    if state.json:
        emit_json(transfer_doc(done, unit))
        return
    moved = unit.format(abs(done.credits))
    if done.credits > 0:
        what = f"transferred {moved} {done.unit} from {done.parent} to {done.child}"
    else:
        what = f"took back {moved} {done.unit} from {done.child} to {done.parent}"
    replayed = " (replayed: key seen before, nothing new moved)" if done.replayed else ""
    show(
        f"{what} (lot {done.lot_id}); {done.parent} available "
        f"{unit.format(done.parent_available)}; {done.child} balance "
        f"{unit.format(done.child_balance)}, available {unit.format(done.child_available)}"
        f"{replayed}"
    )


def transfers(
    ctx: typer.Context,
    parent: Parent,
    child: Annotated[str | None, typer.Option("--child", help="Only this child.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", "-u", help="Only this unit.")] = None,
    after: Annotated[
        int, typer.Option("--after", help="Only transfers after this id (paging).")
    ] = 0,
    limit: Annotated[int, typer.Option("--limit", help="At most this many transfers.")] = 100,
) -> None:
    """The transfer history: date, child, e-mail and name, credits added (+) or taken back (-),
    and who did it; oldest first, page with --after LAST_ID."""
    state = session(ctx)
    history = pm.transfer_history(
        state.books(), parent, child=child, unit=unit, after_id=after, limit=limit
    )
    if state.json:
        emit_json({"transfers": [_record_doc(r, state.unit(r.unit)) for r in history]})
        return
    show(_history_table(state, history) if history else f"no transfers by {parent}")


def _record_doc(rec: pm.TransferRecord, unit: Unit) -> dict[str, Any]:
    doc = plain(rec)
    doc.update(amount(unit, "credits", rec.credits))
    return doc


def _history_table(state: Session, history: list[pm.TransferRecord]) -> RenderableType:
    rows = []
    for r in history:
        signed = state.unit(r.unit).format(r.credits)
        rows.append(
            (
                r.id,
                when(r.at, ""),
                r.child,
                r.child_email,
                r.child_name,
                r.unit,
                signed if r.credits < 0 else f"+{signed}",
                r.actor,
            )
        )
    columns = ["id", "at (UTC)", "child", "e-mail", "name", "unit", "credits", "by"]
    return table(None, columns, rows)


def reseller(ctx: typer.Context, parent: Parent, unit: UnitCode) -> None:
    """A reseller's books, A = B + C + D, and its plan summary."""
    state = session(ctx)
    the_unit = state.unit(unit)
    view = pm.reseller_books(state.books(), parent, unit)
    if state.json:
        emit_json(reseller_doc(view, the_unit))
        return
    tz = view.timezone
    show(
        record(
            f"{view.account} - reseller books, {unit} credits",
            [
                ("A plan credits this period", the_unit.format(view.a)),
                ("B available to assign", the_unit.format(view.b)),
                ("C assigned, not yet used", the_unit.format(view.c)),
                ("D used by children this period", the_unit.format(view.d)),
                ("plan", f"{view.plan} ({view.plan_code})"),
                ("users", f"{view.users_created} / {view.users_allowed}"),
                ("dedicated IPs", view.dedicated_ips),
                ("period started", when(view.period_start_at, tz)),
                ("renews", when(view.renews_at, tz)),
            ],
        )
    )


def reseller_doc(view: pm.ResellerView, unit: Unit) -> dict[str, Any]:
    return {
        "account": view.account,
        "unit": view.unit,
        "plan": view.plan_code,
        "plan_name": view.plan,
        **amount(unit, "a", view.a),
        **amount(unit, "b", view.b),
        **amount(unit, "c", view.c),
        **amount(unit, "d", view.d),
        "users_created": view.users_created,
        "users_allowed": view.users_allowed,
        "dedicated_ips": view.dedicated_ips,
        "period_start_at": view.period_start_at,
        "renews_at": view.renews_at,
    }


def account_move(
    ctx: typer.Context,
    ref: AccountRef,
    parent: Annotated[str, typer.Option("--parent", help="The new parent, in the same tree.")],
    reason: OptionalReason = None,
    key: Key = None,
) -> None:
    """Move an account (and the accounts below it) under another parent of its tree."""
    state = session(ctx)
    moved = pm.move_account(state.books(), state.actor, key_or_new(key), ref, parent, reason=reason)
    if state.json:
        emit_json(plain(moved))
    else:
        show(f"account {moved.ref} is now under {moved.parent}")
