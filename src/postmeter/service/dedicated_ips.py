"""What became of a sender's messages (reported by the platform), and dedicated-IP requests.

A request freezes the sender's figures when its owner asks: its volume over the last 30 days
(the credits it was charged, from the journal) and its rates over the last 7 (delivered, hard
bounced and complained, from the outcomes reported day by day). Only the operator decides; no
request is ever granted by itself (domain/dedicated_ips.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, insert, select, update

from postmeter.domain import dedicated_ips as rules
from postmeter.domain.books import CHARGE
from postmeter.domain.errors import InvalidInput, NotFound
from postmeter.domain.validate import MAX_ID, check_text, is_id
from postmeter.service import senders
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.store import tables as t
from postmeter.store.uow import Tx

MAX_COUNT = 10**12  # messages a sender could report in a day, with room to spare


@dataclass(frozen=True, slots=True)
class Outcomes:
    account: str
    sender: str
    day: str
    sent: int
    delivered: int
    hard_bounced: int
    complained: int


@dataclass(frozen=True, slots=True)
class IpRequestView:
    id: int
    account: str
    sender: str
    state: str
    volume_30d: int
    sent_7d: int
    delivered_7d: int
    hard_bounced_7d: int
    complained_7d: int
    delivered_bp: int | None  # the rates, in hundredths of a percent
    hard_bounced_bp: int | None
    complained_bp: int | None
    asked_by: str
    asked_at: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None


def report_outcomes(
    ctx: Context,
    actor: Actor,
    key: str,
    account: str,
    sender: str,
    day: date,
    *,
    sent: int,
    delivered: int,
    hard_bounced: int,
    complained: int,
) -> Outcomes:
    """Set what became of the sender's messages of ``day`` (a later report replaces it)."""
    counts = {
        "sent": sent,
        "delivered": delivered,
        "hard_bounced": hard_bounced,
        "complained": complained,
    }
    _check_counts(counts)
    request = {"account": account, "sender": sender, "day": day.isoformat(), **counts}

    def work(tx: Tx, _txn: int, now: datetime) -> dict[str, Any]:
        row = senders.sender_row(tx, account, sender)
        if day > now.date():
            raise InvalidInput(f"cannot report outcomes of {day}, a day still to come")
        o = t.sender_outcomes.c
        done = tx.conn.execute(
            update(t.sender_outcomes).where(o.sender_id == row.id, o.day == day).values(**counts)
        )
        if done.rowcount == 0:
            tx.conn.execute(insert(t.sender_outcomes).values(sender_id=row.id, day=day, **counts))
        return {"account": account, "sender": sender, "day": day.isoformat(), **counts}

    result, _, _ = run_once(ctx, actor, key, "sender.outcomes", request, work)
    return Outcomes(**result)


def ask_for_ip(ctx: Context, actor: Actor, key: str, account: str, sender: str) -> IpRequestView:
    """The owner asks for a dedicated IP for ``sender``; its figures are recorded now."""
    request = {"account": account, "sender": sender}

    def work(tx: Tx, _txn: int, now: datetime) -> dict[str, Any]:
        row = senders.sender_row(tx, account, sender)
        figures = _figures(tx, row.id, now)
        asked = rules.ask_for_ip(row.id, figures, role="owner", by=actor.name, at=now)
        request_id = tx.insert_row(
            t.ip_requests,
            {
                "sender_id": row.id,
                "root_id": row.root_id,
                "state": asked.state,
                "volume_30d": figures.volume_30d,
                "sent_7d": figures.delivered_7d.whole,
                "delivered_7d": figures.delivered_7d.part,
                "hard_bounced_7d": figures.hard_bounced_7d.part,
                "complained_7d": figures.complained_7d.part,
                "asked_by": asked.asked_by,
                "asked_at": asked.asked_at,
            },
        )
        return _view(tx, request_id)

    result, _, _ = run_once(ctx, actor, key, "ip.ask", request, work)
    return IpRequestView(**result)


def decide_ip(
    ctx: Context,
    actor: Actor,
    key: str,
    request_id: int,
    *,
    approve: bool,
    reason: str | None = None,
) -> IpRequestView:
    """The operator approves or refuses (with a reason the owner is told) a pending request."""
    if reason is not None:
        # Checked before the transaction row that keeps the reason is written: PostgreSQL
        # refuses a NUL in text with a driver error, not the InvalidInput the rules would give.
        check_text(reason, "the reason", 500)
    request = {"request": request_id, "approve": approve, "reason": reason}

    def work(tx: Tx, _txn: int, now: datetime) -> dict[str, Any]:
        asked = _as_rules(_row(tx, request_id))
        if approve:
            decided = rules.approve_ip(asked, role="operator", by=actor.name, at=now, reason=reason)
        else:
            decided = rules.refuse_ip(
                asked, role="operator", by=actor.name, at=now, reason=reason or ""
            )
        tx.conn.execute(
            update(t.ip_requests)
            .where(t.ip_requests.c.id == request_id)
            .values(
                state=decided.state,
                decided_by=decided.decided_by,
                decided_at=decided.decided_at,
                reason=decided.reason,
            )
        )
        return _view(tx, request_id)

    result, _, _ = run_once(ctx, actor, key, "ip.decide", request, work, reason=reason)
    return IpRequestView(**result)


def ip_requests(
    ctx: Context, account: str, *, before_id: int | None = None, limit: int | None = None
) -> list[IpRequestView]:
    """The account's requests, newest first; page with ``before_id`` (the last id seen) and
    ``limit`` (all when None)."""
    with ctx.store.read() as tx:
        account_id = senders.account_id(tx, account)
        r, s = t.ip_requests.c, t.senders.c
        query = (
            select(r.id)
            .join(t.senders, s.id == r.sender_id)
            .where(s.account_id == account_id)
            .order_by(r.id.desc())
        )
        if before_id is not None:
            # Ids are 32-bit: PostgreSQL would refuse to compare the column with a larger one.
            query = query.where(r.id <= min(before_id - 1, MAX_ID))
        if limit is not None:
            query = query.limit(limit)
        return [IpRequestView(**_view(tx, request_id)) for request_id in tx.conn.scalars(query)]


def _figures(tx: Tx, sender_id: int, now: datetime) -> rules.SenderFigures:
    e, o = t.entries.c, t.sender_outcomes.c
    volume = tx.conn.execute(
        select(func.coalesce(-func.sum(e.delta), 0)).where(
            e.sender_id == sender_id, e.kind == CHARGE, e.created_at > now - timedelta(days=30)
        )
    ).scalar_one()
    week = tx.conn.execute(
        select(
            func.coalesce(func.sum(o.sent), 0),
            func.coalesce(func.sum(o.delivered), 0),
            func.coalesce(func.sum(o.hard_bounced), 0),
            func.coalesce(func.sum(o.complained), 0),
        ).where(o.sender_id == sender_id, o.day > now.date() - timedelta(days=7))
    ).one()
    sent, delivered, bounced, complained = (int(n) for n in week)
    return rules.SenderFigures(
        int(volume),
        rules.Ratio(delivered, sent),
        rules.Ratio(bounced, sent),
        rules.Ratio(complained, sent),
    )


def _check_counts(counts: dict[str, int]) -> None:
    for name, n in counts.items():
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_COUNT:
            raise InvalidInput(f"{name} must be a whole number from 0 to {MAX_COUNT}", field=name)
    if counts["delivered"] + counts["hard_bounced"] > counts["sent"]:
        raise InvalidInput("delivered and hard bounced together cannot exceed sent")
    if counts["complained"] > counts["delivered"]:
        raise InvalidInput("complaints cannot exceed the messages delivered")


def _row(tx: Tx, request_id: int) -> Row[Any]:
    row = None
    if is_id(request_id):
        row = tx.conn.execute(select(t.ip_requests).where(t.ip_requests.c.id == request_id)).first()
    if row is None:
        raise NotFound(f"no dedicated-IP request {request_id}", request=request_id)
    return row


def _as_rules(row: Row[Any]) -> rules.IpRequest:
    sent = row.sent_7d
    figures = rules.SenderFigures(
        row.volume_30d,
        rules.Ratio(row.delivered_7d, sent),
        rules.Ratio(row.hard_bounced_7d, sent),
        rules.Ratio(row.complained_7d, sent),
    )
    return rules.IpRequest(
        row.sender_id, row.asked_by, row.asked_at, figures, row.state,
        row.decided_by, row.decided_at, row.reason,
    )  # fmt: skip


def _view(tx: Tx, request_id: int) -> dict[str, Any]:
    row = _row(tx, request_id)
    sender = tx.conn.execute(select(t.senders).where(t.senders.c.id == row.sender_id)).one()
    account = tx.account_by_id(sender.account_id)
    assert account is not None
    figures = _as_rules(row).figures
    return {
        "id": row.id,
        "account": account.ref,
        "sender": sender.name,
        "state": row.state,
        "volume_30d": row.volume_30d,
        "sent_7d": row.sent_7d,
        "delivered_7d": row.delivered_7d,
        "hard_bounced_7d": row.hard_bounced_7d,
        "complained_7d": row.complained_7d,
        "delivered_bp": figures.delivered_7d.basis_points,
        "hard_bounced_bp": figures.hard_bounced_7d.basis_points,
        "complained_bp": figures.complained_7d.basis_points,
        "asked_by": row.asked_by,
        "asked_at": row.asked_at.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": None if row.decided_at is None else row.decided_at.isoformat(),
        "reason": row.reason,
    }
