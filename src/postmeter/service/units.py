"""Units of credit (``email``, ``sms``, ...) and their operator policies."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from postmeter.domain.amounts import MAX_SCALE, check_credits
from postmeter.domain.errors import AlreadyExists
from postmeter.domain.units import Unit
from postmeter.domain.validate import check_code, check_count, check_text
from postmeter.service import lookup
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.store import tables as t
from postmeter.store.uow import Tx


def create_unit(ctx: Context, actor: Actor, key: str, code: str, name: str, scale: int) -> Unit:
    """Add a unit; its code can never change, since amounts everywhere are counted in it."""
    check_code(code, "unit code")
    check_text(name, "unit name")
    check_count(scale, "scale", high=MAX_SCALE)

    def work(tx: Tx, _txn: int, _now: datetime) -> dict[str, Any]:
        if tx.exists(t.units, code=code):
            raise AlreadyExists(f"unit {code!r} exists already", unit=code)
        tx.conn.execute(t.units.insert().values(code=code, name=name, scale=scale))
        return asdict(lookup.unit(tx, code))

    request = {"code": code, "name": name, "scale": scale}
    result, _, _ = run_once(ctx, actor, key, "unit.create", request, work)
    return Unit(**result)


def set_policy(
    ctx: Context,
    actor: Actor,
    key: str,
    code: str,
    *,
    extend_on_purchase: bool | None = None,
    signup_credits: int | None = None,
    signup_days: int | None = None,
) -> Unit:
    """Set a unit's operator policies: package expiry extension, sign-up credits."""
    changes: dict[str, Any] = {}
    if extend_on_purchase is not None:
        changes["extend_on_purchase"] = bool(extend_on_purchase)
    if signup_credits is not None:
        changes["signup_credits"] = check_credits(signup_credits, allow_zero=True)
    if signup_days is not None:
        changes["signup_days"] = (
            check_count(signup_days, "sign-up validity (days)", low=0, high=36_500) or None
        )

    def work(tx: Tx, _txn: int, _now: datetime) -> dict[str, Any]:
        lookup.unit(tx, code)
        if changes:
            tx.conn.execute(update(t.units).where(t.units.c.code == code).values(**changes))
        return asdict(lookup.unit(tx, code))

    result, _, _ = run_once(ctx, actor, key, "unit.policy", {"code": code, **changes}, work)
    return Unit(**result)


def list_units(ctx: Context) -> list[Unit]:
    with ctx.store.read() as tx:
        codes = tx.conn.execute(select(t.units.c.code).order_by(t.units.c.code)).scalars().all()
        return [lookup.unit(tx, code) for code in codes]


def get_unit(ctx: Context, code: str) -> Unit:
    with ctx.store.read() as tx:
        return lookup.unit(tx, code)
