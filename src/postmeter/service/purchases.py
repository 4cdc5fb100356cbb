"""Buying a catalogue package: its own lot, valid for the package's validity [DirectMail]."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from postmeter.domain import lots as lot_sources
from postmeter.domain.books import EXTEND, ISSUANCE, PURCHASE, Posting
from postmeter.domain.periods import add_months
from postmeter.service import lookup
from postmeter.service.catalogue import package
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.service.posting import grant_lot
from postmeter.store import tables as t
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class Purchase:
    txn_id: int
    account: str
    package: str
    unit: str
    credits: int
    lot_id: int
    expires_at: str
    price_minor: int
    currency: str
    extended_lots: list[int]  # live package lots whose expiry moved to this one's


def buy(ctx: Context, actor: Actor, key: str, account: str, package_code: str) -> Purchase:
    """Buy ``package_code`` for ``account``: paid in advance, credits usable at once."""
    request = {"account": account, "package": package_code}

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        row = lookup.account(tx, account)
        lookup.check_active(tx, row)
        pkg = package(tx, package_code)
        unit = lookup.unit(tx, pkg.unit)
        expires_at = add_months(now, pkg.validity_months, row.timezone) + timedelta(
            days=pkg.validity_days
        )
        balance = tx.lock_balances([(row.id, unit.code)])[(row.id, unit.code)]
        extended = _extend_live_packages(tx, balance.account_id, unit.code, expires_at, now)
        if extended:
            tx.post(balance, txn_id, [Posting(i, EXTEND, ISSUANCE) for i in extended], now)
        lot_id = grant_lot(
            tx,
            balance,
            txn_id,
            now,
            source=lot_sources.PACKAGE,
            credits=pkg.credits,
            expires_at=expires_at,
            kind=PURCHASE,
            package_code=pkg.code,
        )
        tx.insert_row(
            t.purchases,
            {
                "txn_id": txn_id,
                "account_id": row.id,
                "root_id": row.root_id,
                "package_code": pkg.code,
                "lot_id": lot_id,
                "price_minor": pkg.price_minor,
                "currency": pkg.currency,
                "created_at": now,
            },
        )
        return {
            "account": account,
            "package": pkg.code,
            "unit": unit.code,
            "credits": pkg.credits,
            "lot_id": lot_id,
            "expires_at": expires_at.isoformat(),
            "price_minor": pkg.price_minor,
            "currency": pkg.currency,
            "extended_lots": extended,
        }

    result, txn_id, _ = run_once(ctx, actor, key, "package.buy", request, work)
    return Purchase(txn_id=txn_id, **result)


def _extend_live_packages(
    tx: Tx, account_id: int, unit: str, expires_at: datetime, now: datetime
) -> list[int]:
    """Where the unit's policy says so, move live package lots' expiry out to ``expires_at``."""
    if not lookup.unit(tx, unit).extend_on_purchase:
        return []
    c = t.lots.c
    ids = list(
        tx.conn.scalars(
            select(c.id)
            .where(
                c.account_id == account_id,
                c.unit == unit,
                t.LIVE_LOT,
                c.source == lot_sources.PACKAGE,
                c.expires_at > now,
                c.expires_at < expires_at,
            )
            .order_by(c.id)
        )
    )
    if ids:
        tx.set_lot_expiry(ids, expires_at)
    return ids
