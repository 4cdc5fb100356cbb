"""Senders: an account's domains and lists, how each shares the credits, and their status."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from postmeter.cli.options import AccountRef, Key, UnitCode
from postmeter.cli.output import emit_json, record, show, table
from postmeter.cli.session import Session, key_or_new, parse_amount, session
from postmeter.cli.views import plain
from postmeter.domain import senders as rules
from postmeter.domain import statuses
from postmeter.domain.errors import InvalidInput
from postmeter.service import dedicated_ips, senders

sender_app = typer.Typer(
    help="Senders: an account's domains and lists, and how they share its credits.",
    no_args_is_help=True,
)

SenderName = Annotated[str, typer.Argument(help="The domain or list name.", show_default=False)]
Cap = Annotated[str | None, typer.Option("--cap", help="At most this many credits per period.")]
Assign = Annotated[
    str | None, typer.Option("--assign", help="Set this many credits aside for it alone.")
]
Role = Annotated[
    str,
    typer.Option("--as", help="Who acts: owner (the account) or operator.", show_default=True),
]
Why = Annotated[str | None, typer.Option("--reason", help="Why: kept with the change.")]


def register(app: typer.Typer) -> None:
    app.add_typer(sender_app, name="sender")


@sender_app.command("create")
def sender_create(
    ctx: typer.Context,
    account: AccountRef,
    name: SenderName,
    unit: UnitCode,
    kind: Annotated[str, typer.Option("--kind", help="domain or list.")] = rules.DOMAIN,
    cap: Cap = None,
    assign: Assign = None,
    key: Key = None,
) -> None:
    """Add a sender; free access to the account's credits unless --cap or --assign."""
    state = session(ctx)
    sharing = _sharing(state, unit, cap, assign)
    done = senders.create_sender(
        state.books(), state.actor, key_or_new(key), account, name, kind=kind, unit=unit,
        sharing=sharing,
    )  # fmt: skip
    _show(state, done, "sender created")


@sender_app.command("share")
def sender_share(
    ctx: typer.Context,
    account: AccountRef,
    name: SenderName,
    free: Annotated[bool, typer.Option("--free", help="Free access: no limit of its own.")] = False,
    cap: Cap = None,
    assign: Assign = None,
    key: Key = None,
) -> None:
    """Change how a sender shares the account's credits: --free, --cap N or --assign N."""
    state = session(ctx)
    if free + (cap is not None) + (assign is not None) != 1:
        raise InvalidInput("give exactly one of --free, --cap and --assign")
    unit = senders.get_sender(state.books(), account, name).unit
    sharing = _sharing(state, unit, cap, assign)
    done = senders.set_sharing(state.books(), state.actor, key_or_new(key), account, name, sharing)
    _show(state, done, "sender shares")


@sender_app.command("status")
def sender_status(
    ctx: typer.Context,
    account: AccountRef,
    name: SenderName,
    action: Annotated[
        str,
        typer.Argument(
            help="suspend, resume, block, unblock, request-unblock, approve-unblock or "
            "refuse-unblock.",
            show_default=False,
        ),
    ],
    role: Role = statuses.OPERATOR,
    reason: Why = None,
    key: Key = None,
) -> None:
    """Change a sender's status as its owner or as the operator (recorded with who and why)."""
    state = session(ctx)
    done = senders.change_status(
        state.books(), state.actor, key_or_new(key), account, name, action.replace("-", "_"),
        role=role, reason=reason,
    )  # fmt: skip
    _show(state, done, f"sender {done.status}")


@sender_app.command("show")
def sender_show(ctx: typer.Context, account: AccountRef, name: SenderName) -> None:
    """A sender, its limits this period, and its status history."""
    state = session(ctx)
    sender = senders.get_sender(state.books(), account, name)
    history = senders.sender_history(state.books(), account, name)
    if state.json:
        emit_json({**plain(sender), "history": [plain(e) for e in history]})
        return
    _show(state, sender, f"sender {name}")
    if history:
        rows = [(e.at, e.action, e.role, e.actor, e.reason or "", e.after) for e in history]
        show(table(None, ["at", "action", "as", "by", "reason", "now"], rows))


@sender_app.command("list")
def sender_list(ctx: typer.Context, account: AccountRef) -> None:
    """An account's senders."""
    state = session(ctx)
    found = senders.list_senders(state.books(), account)
    if state.json:
        emit_json({"senders": [plain(s) for s in found]})
        return
    rows = [
        (s.name, s.kind, s.unit, s.mode, _limit(state, s), s.status) for s in found
    ]  # fmt: skip
    show(table(None, ["name", "kind", "unit", "sharing", "limit", "status"], rows))


@sender_app.command("outcomes")
def sender_outcomes(
    ctx: typer.Context,
    account: AccountRef,
    name: SenderName,
    day: Annotated[str, typer.Option("--day", help="The day, YYYY-MM-DD.")],
    sent: Annotated[int, typer.Option("--sent", help="Messages sent that day.")],
    delivered: Annotated[int, typer.Option("--delivered", help="Of those, delivered.")],
    bounced: Annotated[int, typer.Option("--bounced", help="Of those, hard bounced.")] = 0,
    complained: Annotated[int, typer.Option("--complained", help="Spam complaints.")] = 0,
    key: Key = None,
) -> None:
    """Report what became of a sender's messages of one day (a later report replaces it)."""
    state = session(ctx)
    done = dedicated_ips.report_outcomes(
        state.books(), state.actor, key_or_new(key), account, name, _day(day), sent=sent,
        delivered=delivered, hard_bounced=bounced, complained=complained,
    )  # fmt: skip
    if state.json:
        emit_json(plain(done))
        return
    show(
        f"{done.sender} on {done.day}: {done.sent} sent, {done.delivered} delivered, "
        f"{done.hard_bounced} hard bounced, {done.complained} complaints"
    )


@sender_app.command("ip-request")
def sender_ip_request(
    ctx: typer.Context, account: AccountRef, name: SenderName, key: Key = None
) -> None:
    """Ask, as the owner, for a dedicated IP: the sender's figures of now go with the request."""
    state = session(ctx)
    done = dedicated_ips.ask_for_ip(state.books(), state.actor, key_or_new(key), account, name)
    _show_ip(state, done, "dedicated IP asked for")


@sender_app.command("ip-decide")
def sender_ip_decide(
    ctx: typer.Context,
    request: Annotated[int, typer.Argument(help="The request's id.", show_default=False)],
    decision: Annotated[str, typer.Argument(help="approve or refuse.", show_default=False)],
    reason: Why = None,
    key: Key = None,
) -> None:
    """Approve or refuse (with --reason) a dedicated-IP request, as the operator."""
    state = session(ctx)
    if decision not in ("approve", "refuse"):
        raise InvalidInput(f"decide 'approve' or 'refuse', not {decision!r}")
    done = dedicated_ips.decide_ip(
        state.books(), state.actor, key_or_new(key), request, approve=decision == "approve",
        reason=reason,
    )  # fmt: skip
    _show_ip(state, done, f"dedicated IP {done.state}")


@sender_app.command("ip-requests")
def sender_ip_requests(ctx: typer.Context, account: AccountRef) -> None:
    """An account's dedicated-IP requests, newest first."""
    state = session(ctx)
    found = dedicated_ips.ip_requests(state.books(), account)
    if state.json:
        emit_json({"requests": [plain(r) for r in found]})
        return
    rows = [
        (r.id, r.sender, r.state, r.volume_30d, _rate(r.delivered_bp), _rate(r.hard_bounced_bp),
         _rate(r.complained_bp), r.asked_at, r.reason or "")
        for r in found
    ]  # fmt: skip
    columns = ["id", "sender", "state", "30-day volume", "delivered", "bounced", "complaints"]
    show(table(None, [*columns, "asked", "reason"], rows))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--day: {text!r} is not a date (YYYY-MM-DD)", value=text) from None


def _rate(basis_points: int | None) -> str:
    """Hundredths of a percent as a percentage, exactly: 9_876 -> 98.76%."""
    if basis_points is None:
        return "-"
    return f"{basis_points // 100}.{basis_points % 100:02d}%"


def _show_ip(state: Session, r: dedicated_ips.IpRequestView, title: str) -> None:
    if state.json:
        emit_json(plain(r))
        return
    fields = [
        ("request", r.id),
        ("sender", f"{r.sender} of {r.account}"),
        ("state", r.state),
        ("volume, 30 days", r.volume_30d),
        ("delivered, 7 days", f"{_rate(r.delivered_bp)} of {r.sent_7d}"),
        ("hard bounced, 7 days", _rate(r.hard_bounced_bp)),
        ("complaints, 7 days", _rate(r.complained_bp)),
        ("asked", f"{r.asked_at} by {r.asked_by}"),
    ]
    if r.decided_at is not None:
        fields.append(("decided", f"{r.decided_at} by {r.decided_by}: {r.reason or ''}"))
    show(record(title, fields))


def _sharing(state: Session, unit: str, cap: str | None, assign: str | None) -> rules.Sharing:
    if cap is not None and assign is not None:
        raise InvalidInput("a sender has a cap or an assignment, not both")
    the_unit = state.unit(unit)
    if cap is not None:
        return rules.Sharing(rules.CAP, parse_amount(the_unit, cap, "--cap", zero=True))
    if assign is not None:
        return rules.Sharing(
            rules.ASSIGNMENT, parse_amount(the_unit, assign, "--assign", zero=True)
        )
    return rules.Sharing()


def _limit(state: Session, s: senders.Sender) -> str:
    unit = state.unit(s.unit)
    if s.mode == rules.CAP and s.cap is not None:
        return f"{unit.format(s.cap_used)} of {unit.format(s.cap)} this period"
    if s.mode == rules.ASSIGNMENT:
        return f"{unit.format(s.assigned)} left"
    return ""


def _show(state: Session, s: senders.Sender, title: str) -> None:
    if state.json:
        emit_json(plain(s))
        return
    fields = [
        ("account", s.account),
        ("name", s.name),
        ("kind", s.kind),
        ("unit", s.unit),
        ("sharing", s.mode),
        ("limit", _limit(state, s) or "none"),
        ("status", s.status + (" (unblock asked)" if s.unblock_requested else "")),
    ]
    show(record(title, fields))
