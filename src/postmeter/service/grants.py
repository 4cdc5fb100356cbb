"""Credits the operator gives or corrects by hand: free allowances and adjustments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postmeter.domain import lots as lot_sources
from postmeter.domain.amounts import check_credits
from postmeter.domain.books import ADJUST, CORRECTION
from postmeter.domain.errors import InvalidInput
from postmeter.domain.validate import check_instant, check_text
from postmeter.service import lookup
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.service.posting import debit_postings, grant_lot
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class Grant:
    txn_id: int
    account: str
    unit: str
    credits: int
    lot_id: int | None  # the new lot (None for a correction downwards)
    balance: int
    available: int


def grant(
    ctx: Context,
    actor: Actor,
    key: str,
    account: str,
    unit: str,
    credits: int,
    *,
    source: str = lot_sources.FREE,
    expires_at: datetime | None = None,
    reason: str,
) -> Grant:
    """Give ``credits`` as a new lot: a free allowance (drawn first) or an adjustment."""
    check_credits(credits)
    check_text(reason, "reason", 500)
    if source not in (lot_sources.FREE, lot_sources.ADJUSTMENT):
        raise InvalidInput(f"a grant is {lot_sources.FREE!r} or {lot_sources.ADJUSTMENT!r}")
    request = {
        "account": account,
        "unit": unit,
        "credits": credits,
        "source": source,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "reason": reason,
    }

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        row = lookup.account(tx, account)
        lookup.unit(tx, unit)
        if expires_at is not None and check_instant(expires_at, "expiry") <= now:
            raise InvalidInput("the expiry of a grant must be in the future")
        balance = tx.lock_balances([(row.id, unit)])[(row.id, unit)]
        lot_id = grant_lot(
            tx, balance, txn_id, now, source=source, credits=credits, expires_at=expires_at
        )
        return {
            "account": account,
            "unit": unit,
            "credits": credits,
            "lot_id": lot_id,
            "balance": balance.balance,
            "available": balance.available,
        }

    result, txn_id, _ = run_once(ctx, actor, key, "grant", request, work, reason=reason)
    return Grant(txn_id=txn_id, **result)


def correct_down(
    ctx: Context, actor: Actor, key: str, account: str, unit: str, credits: int, *, reason: str
) -> Grant:
    """Take back ``credits`` that should not be there, in draw-down order, with a reason."""
    check_credits(credits)
    check_text(reason, "reason", 500)
    request = {"account": account, "unit": unit, "credits": credits, "reason": reason}

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        row = lookup.account(tx, account)
        lookup.unit(tx, unit)
        balance = tx.lock_balances([(row.id, unit)])[(row.id, unit)]
        wanted = min(credits, max(balance.available, 0))
        postings, shortfall = debit_postings(
            tx.live_lots(row.id, unit), wanted, now, kind=ADJUST, counterparty=CORRECTION
        )
        taken = wanted - shortfall  # an expired lot tick has not reached gives nothing
        if taken < credits:
            raise lookup.shortfall(tx, account, unit, credits - taken, taken, "to take back")
        tx.post(balance, txn_id, postings, now)
        return {
            "account": account,
            "unit": unit,
            "credits": -credits,
            "lot_id": None,
            "balance": balance.balance,
            "available": balance.available,
        }

    result, txn_id, _ = run_once(ctx, actor, key, "correct", request, work, reason=reason)
    return Grant(txn_id=txn_id, **result)
