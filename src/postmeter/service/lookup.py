"""Finding things by their public names inside a unit of work, or a clear NotFound."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select

from postmeter.domain.errors import AccountInactive, InsufficientCredits, NotFound
from postmeter.domain.units import Unit
from postmeter.domain.validate import is_code, is_ref
from postmeter.store import tables as t
from postmeter.store.uow import Tx


def account(tx: Tx, ref: str) -> Row[Any]:
    # A reference of the wrong shape cannot exist; asking the database could fail on it (NUL).
    row = tx.account_by_ref(ref) if is_ref(ref) else None
    if row is None:
        raise NotFound(f"no account {ref!r}", account=ref)
    return row


def unit(tx: Tx, code: str) -> Unit:
    row = None
    if is_code(code):
        row = tx.conn.execute(select(t.units).where(t.units.c.code == code)).first()
    if row is None:
        raise NotFound(f"no unit {code!r}", unit=code)
    return Unit(
        row.code, row.name, row.scale, row.extend_on_purchase, row.signup_credits, row.signup_days
    )


def lineage(tx: Tx, account_id: int) -> list[int]:
    """The ids of the account and of every account above it, nearest first."""
    row = tx.account_by_id(account_id)
    assert row is not None
    return [row.id, *(parent.id for parent in tx.ancestors(row))]


def check_active(tx: Tx, account_row: Row[Any]) -> None:
    """Refuse when the account or any account above it is not active."""
    for row in (account_row, *tx.ancestors(account_row)):
        if row.status != "active":
            raise AccountInactive(
                f"account {row.ref!r} is {row.status}", account=row.ref, status=row.status
            )


def shortfall(
    tx: Tx, account: str, unit_code: str, short: int, available: int, doing: str = "for this"
) -> InsufficientCredits:
    """The refusal for a missing ``short`` steps, said in credits of the unit."""
    the_unit = unit(tx, unit_code)
    return InsufficientCredits(
        f"account {account!r} lacks {the_unit.format(short)} {unit_code} credits {doing} "
        f"(available: {the_unit.format(available)})",
        account=account,
        unit=unit_code,
        shortfall=short,
        available=available,
    )
