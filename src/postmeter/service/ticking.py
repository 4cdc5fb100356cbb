"""``tick``: everything that happens because time passed, in the order it happened.

Renewals, lot expiries and reservation deadlines are processed one event at a time, the earliest
first, each in its own transaction under a key naming the event, so running tick twice (or in two
processes at once) books each event exactly once, and a tick after downtime catches up in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from postmeter.domain.errors import InvalidState
from postmeter.service import expiry, reservations, subscriptions
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.store.uow import Tx

SYSTEM = Actor("tick", scope="system")

# At one instant: deadlines first (released credits can then expire), then expiries (a period's
# lot ends), then renewals (the next period's lot begins).
_ORDER = ("timeout", "expire", "renew")


@dataclass
class TickReport:
    renewals: int = 0
    expiries: int = 0
    expired_credits: int = 0  # steps, summed over units: meaningful for one unit only
    expired: dict[str, int] = field(default_factory=dict)  # steps expired, by unit
    timeouts: int = 0
    events: list[str] = field(default_factory=list)


def tick(ctx: Context, *, limit: int = 100_000) -> TickReport:
    """Book every event due up to now; returns what was done."""
    now = ctx.clock.now()
    report = TickReport()
    seen: set[str] = set()
    for _ in range(limit):
        event = _next_event(ctx, now)
        if event is None:
            break
        kind, at, ident, arg = event
        key = f"tick:{kind}:{ident}:{arg}"
        if key in seen:
            # An event booked already yet still due would loop forever: say so instead.
            raise InvalidState(f"tick is stuck on {key}", event=key)
        seen.add(key)
        result, _, replayed = run_once(
            ctx, SYSTEM, key, f"tick.{kind}", {}, _HANDLERS[kind](ident, arg, at)
        )
        if not replayed:
            report.events.append(key)
            report.renewals += result.get("renewed", 0)
            report.expiries += 1 if result.get("expired") else 0
            report.expired_credits += result.get("expired", 0)
            if result.get("expired"):
                unit = result["unit"]
                report.expired[unit] = report.expired.get(unit, 0) + result["expired"]
            report.timeouts += result.get("timed_out", 0)
    return report


def _next_event(ctx: Context, now: datetime) -> tuple[str, datetime, int, str] | None:
    with ctx.store.read() as tx:
        candidates = []
        res = reservations.due(tx, now)
        if res is not None:
            candidates.append(("timeout", res.deadline_at, res.id, "0"))
        lot = expiry.due(tx, now)
        if lot is not None:
            candidates.append(("expire", lot.expires_at, lot.id, lot.expires_at.isoformat()))
        sub = subscriptions.due(tx, now)
        if sub is not None:
            candidates.append(("renew", sub.next_renewal_at, sub.id, str(sub.next_index)))
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c[1], _ORDER.index(c[0]), c[2]))


Handler = Callable[[Tx, int, datetime], dict[str, Any]]


def _timeout(ident: int, _arg: str, at: datetime) -> Handler:
    def work(tx: Tx, txn_id: int, _now: datetime) -> dict[str, Any]:
        reservations.release_in(tx, txn_id, ident, at, reservations.TIMED_OUT)
        return {"timed_out": 1}

    return work


def _expire(ident: int, _arg: str, at: datetime) -> Handler:
    def work(tx: Tx, txn_id: int, _now: datetime) -> dict[str, Any]:
        unit, credits = expiry.expire_lot(tx, txn_id, ident, at)
        return {"expired": credits, "unit": unit}

    return work


def _renew(ident: int, arg: str, _at: datetime) -> Handler:
    def work(tx: Tx, txn_id: int, _now: datetime) -> dict[str, Any]:
        return {"renewed": 1 if subscriptions.renew(tx, txn_id, ident, int(arg)) else 0}

    return work


_HANDLERS: dict[str, Callable[[int, str, datetime], Handler]] = {
    "timeout": _timeout,
    "expire": _expire,
    "renew": _renew,
}
