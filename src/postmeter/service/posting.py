"""Book-keeping steps shared by the use cases: creating a lot, debiting in draw-down order."""

from __future__ import annotations

from datetime import datetime

from postmeter.domain.books import CHARGE, GRANT, ISSUANCE, USAGE, Balance, Posting
from postmeter.domain.lots import DEFAULT_PRIORITY, Draw, Lot, plan_draw
from postmeter.store.uow import Tx


def grant_lot(
    tx: Tx,
    balance: Balance,
    txn_id: int,
    now: datetime,
    *,
    source: str,
    credits: int,
    expires_at: datetime | None,
    priority: int = DEFAULT_PRIORITY,
    kind: str = GRANT,
    counterparty: str = ISSUANCE,
    subscription_id: int | None = None,
    period_index: int | None = None,
    package_code: str | None = None,
) -> int:
    """Create a lot of ``credits`` and book them in; returns the lot's id."""
    lot_id = tx.insert_lot(
        {
            "account_id": balance.account_id,
            "unit": balance.unit,
            "root_id": balance.root_id,
            "source": source,
            "priority": priority,
            "amount": credits,
            "expires_at": expires_at,
            "created_at": now,
            "txn_id": txn_id,
            "subscription_id": subscription_id,
            "period_index": period_index,
            "package_code": package_code,
        }
    )
    tx.post(balance, txn_id, [Posting(lot_id, kind, counterparty, delta=credits)], now)
    return lot_id


def debit_postings(
    lots: list[Lot],
    credits: int,
    now: datetime,
    *,
    kind: str = CHARGE,
    counterparty: str = USAGE,
) -> tuple[list[Posting], int]:
    """Postings that take ``credits`` in draw-down order, and the shortfall the lots leave."""
    draw = plan_draw(lots, credits, now)
    return take(lots, draw, kind, counterparty), draw.shortfall


def take(lots: list[Lot], draw: Draw, kind: str, counterparty: str) -> list[Posting]:
    """The postings of ``draw``; ``lots`` are updated in memory so later debits see the rest."""
    by_id = {lot.id: lot for lot in lots}
    postings = []
    for lot_id, credits in draw.takes:
        by_id[lot_id].remaining -= credits
        postings.append(Posting(lot_id, kind, counterparty, delta=-credits))
    return postings
