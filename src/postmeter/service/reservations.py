"""Reservations: credits held for a scheduled send, then captured or released exactly once.

A reservation draws its lots at once, in the draw-down order, and holds them (available falls,
the balance does not). Capture spends the real cost from the holds in the order they were taken
and gives the rest back to the very lots it came from; a lot that expired in the meantime expires
what it gets back at that moment. A reservation still held at its deadline is released by tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select, update

from postmeter.domain.amounts import check_credits
from postmeter.domain.books import (
    BREAKAGE,
    CAPTURE,
    EXPIRE,
    HOLD,
    RELEASE,
    USAGE,
    Balance,
    Posting,
    reservation_party,
)
from postmeter.domain.errors import InvalidInput, InvalidState, NotFound
from postmeter.domain.lots import plan_draw, split_capture
from postmeter.domain.validate import check_instant, is_id
from postmeter.service import lookup
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.service.posting import debit_postings
from postmeter.store import tables as t
from postmeter.store.uow import Tx

HELD = "held"
CAPTURED = "captured"
RELEASED = "released"
TIMED_OUT = "timed_out"
MAX_HOLD = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class Reservation:
    id: int
    account: str
    unit: str
    credits: int
    held: int  # what the lots hold; less than credits only with pay-as-you-go
    status: str
    deadline_at: str
    captured: int | None
    available: int  # the account's available credits after this step


def reserve(
    ctx: Context,
    actor: Actor,
    key: str,
    account: str,
    unit: str,
    credits: int,
    deadline_at: datetime,
) -> Reservation:
    """Hold ``credits`` until ``deadline_at`` for a scheduled send."""
    check_credits(credits)
    request = {
        "account": account,
        "unit": unit,
        "credits": credits,
        "deadline_at": deadline_at.isoformat(),
    }

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        if not now < check_instant(deadline_at, "deadline") <= now + MAX_HOLD:
            raise InvalidInput("the deadline must be in the future and within a year")
        row = lookup.account(tx, account)
        lookup.check_active(tx, row)
        lookup.unit(tx, unit)
        balance = tx.lock_balances([(row.id, unit)])[(row.id, unit)]
        # The balance row may still count a lot that expired before tick ran: the live lots
        # say what can really be held.
        draw = plan_draw(tx.live_lots(row.id, unit), min(credits, max(balance.available, 0)), now)
        if draw.drawn < credits and not balance.has_payg:
            short = credits - draw.drawn
            raise lookup.shortfall(tx, account, unit, short, draw.drawn, "to reserve")
        res_id = tx.insert_row(
            t.reservations,
            {
                "account_id": row.id,
                "unit": unit,
                "root_id": row.root_id,
                "credits": credits,
                "status": HELD,
                "deadline_at": deadline_at,
                "created_at": now,
                "txn_id": txn_id,
            },
        )
        if draw.takes:
            tx.conn.execute(
                insert(t.holds),
                [
                    {
                        "reservation_id": res_id,
                        "position": i,
                        "lot_id": lot_id,
                        "credits": n,
                        "root_id": row.root_id,
                    }
                    for i, (lot_id, n) in enumerate(draw.takes)
                ],
            )
            party = reservation_party(res_id)
            tx.post(
                balance,
                txn_id,
                [Posting(lot_id, HOLD, party, held_delta=n) for lot_id, n in draw.takes],
                now,
            )
        return view(tx, res_id, balance)

    result, _, _ = run_once(ctx, actor, key, "reservation.create", request, work)
    return Reservation(**result)


def capture(ctx: Context, actor: Actor, key: str, reservation_id: int, credits: int) -> Reservation:
    """The send went out and cost ``credits``: spend them, release what is left over."""
    check_credits(credits, allow_zero=True)
    request = {"reservation": reservation_id, "credits": credits}

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        res, balance = _open(tx, reservation_id)
        if res.deadline_at <= now:
            # Past its deadline a reservation is released (by tick, if it has not run yet).
            raise InvalidState(
                f"reservation {reservation_id} passed its deadline", reservation=reservation_id
            )
        account = tx.account_by_id(res.account_id)
        assert account is not None
        lookup.check_active(tx, account)
        holds = _holds(tx, reservation_id)
        spent, beyond = split_capture(holds, credits)
        postings = [Posting(lot_id, CAPTURE, USAGE, delta=-n, held_delta=-n) for lot_id, n in spent]
        postings += _release_postings(tx, res.id, _unspent(holds, spent), now)
        tx.post(balance, txn_id, postings, now)
        if beyond:
            _charge_beyond(tx, balance, txn_id, res, beyond, now)
        _close(tx, reservation_id, CAPTURED, now, credits)
        return view(tx, reservation_id, balance)

    result, _, _ = run_once(ctx, actor, key, "reservation.capture", request, work)
    return Reservation(**result)


def release(ctx: Context, actor: Actor, key: str, reservation_id: int) -> Reservation:
    """The send was cancelled: give everything back."""

    def work(tx: Tx, txn_id: int, now: datetime) -> dict[str, Any]:
        return release_in(tx, txn_id, reservation_id, now, RELEASED)

    result, _, _ = run_once(ctx, actor, key, "reservation.release", {"id": reservation_id}, work)
    return Reservation(**result)


def release_in(
    tx: Tx, txn_id: int, reservation_id: int, now: datetime, status: str
) -> dict[str, Any]:
    res, balance = _open(tx, reservation_id)
    tx.post(balance, txn_id, _release_postings(tx, res.id, _holds(tx, reservation_id), now), now)
    _close(tx, reservation_id, status, now, None)
    return view(tx, reservation_id, balance)


def due(tx: Tx, now: datetime) -> Any:
    """The held reservation whose deadline passed first."""
    c = t.reservations.c
    return tx.conn.execute(
        select(c.id, c.deadline_at)
        .where(t.OPEN_RESERVATION, c.deadline_at <= now)
        .order_by(c.deadline_at, c.id)
        .limit(1)
    ).first()


def get_reservation(ctx: Context, reservation_id: int) -> Reservation:
    with ctx.store.read() as tx:
        res = _reservation(tx, reservation_id)
        balance = tx.read_balance(res.account_id, res.unit)
        assert balance is not None
        return Reservation(**view(tx, reservation_id, balance))


def _release_postings(
    tx: Tx, reservation_id: int, holds: list[tuple[int, int]], now: datetime
) -> list[Posting]:
    """Give holds back to their lots; what returns to an expired lot expires on the spot."""
    party = reservation_party(reservation_id)
    expired = _expired_lots(tx, [lot_id for lot_id, _ in holds], now)
    postings = []
    for lot_id, n in holds:
        if n == 0:
            continue
        postings.append(Posting(lot_id, RELEASE, party, held_delta=-n))
        if lot_id in expired:
            postings.append(Posting(lot_id, EXPIRE, BREAKAGE, delta=-n))
    return postings


def _charge_beyond(
    tx: Tx, balance: Balance, txn_id: int, res: Row[Any], credits: int, now: datetime
) -> None:
    """The send cost more than was held: draw the rest like a charge, or bill it as overage."""
    wanted = min(credits, max(balance.available, 0))
    lots = tx.live_lots(res.account_id, res.unit)
    postings, shortfall = debit_postings(lots, wanted, now)
    free = wanted - shortfall  # what the live lots gave
    short = credits - free
    if short and not balance.has_payg:
        account = tx.account_by_id(res.account_id)
        assert account is not None
        raise lookup.shortfall(
            tx, account.ref, res.unit, short, free, "beyond what the reservation held"
        )
    tx.post(balance, txn_id, postings, now)
    if short:
        tx.insert_row(
            t.overages,
            {
                "txn_id": txn_id,
                "account_id": res.account_id,
                "unit": res.unit,
                "root_id": res.root_id,
                "credits": short,
                "price_minor": balance.payg_price_minor,
                "price_per": balance.payg_price_per,
                "currency": balance.payg_currency,
                "created_at": now,
            },
        )


def _open(tx: Tx, reservation_id: int) -> tuple[Row[Any], Balance]:
    res = _reservation(tx, reservation_id)
    balance = tx.lock_balances([(res.account_id, res.unit)])[(res.account_id, res.unit)]
    res = _reservation(tx, reservation_id)  # read again under the lock
    if res.status != HELD:
        raise InvalidState(
            f"reservation {reservation_id} is {res.status} already",
            reservation=reservation_id,
            status=res.status,
        )
    return res, balance


def _reservation(tx: Tx, reservation_id: int) -> Row[Any]:
    row = None
    if is_id(reservation_id):
        row = tx.conn.execute(
            select(t.reservations).where(t.reservations.c.id == reservation_id)
        ).first()
    if row is None:
        raise NotFound(f"no reservation {reservation_id}", reservation=reservation_id)
    return row


def _holds(tx: Tx, reservation_id: int) -> list[tuple[int, int]]:
    c = t.holds.c
    rows = tx.conn.execute(
        select(c.lot_id, c.credits).where(c.reservation_id == reservation_id).order_by(c.position)
    )
    return [(lot_id, n) for lot_id, n in rows]


def _unspent(holds: list[tuple[int, int]], spent: list[tuple[int, int]]) -> list[tuple[int, int]]:
    used = dict(spent)
    return [(lot_id, n - used.get(lot_id, 0)) for lot_id, n in holds]


def _expired_lots(tx: Tx, lot_ids: list[int], now: datetime) -> set[int]:
    if not lot_ids:
        return set()
    c = t.lots.c
    return set(tx.conn.scalars(select(c.id).where(c.id.in_(lot_ids), c.expires_at <= now)))


def _close(tx: Tx, reservation_id: int, status: str, now: datetime, captured: int | None) -> None:
    tx.conn.execute(
        update(t.reservations)
        .where(t.reservations.c.id == reservation_id)
        .values(status=status, closed_at=now, captured=captured)
    )


def view(tx: Tx, reservation_id: int, balance: Balance) -> dict[str, Any]:
    res = _reservation(tx, reservation_id)
    account = tx.account_by_id(res.account_id)
    assert account is not None
    held = sum(n for _, n in _holds(tx, reservation_id)) if res.status == HELD else 0
    return {
        "id": res.id,
        "account": account.ref,
        "unit": res.unit,
        "credits": res.credits,
        "held": held,
        "status": res.status,
        "deadline_at": res.deadline_at.isoformat(),
        "captured": res.captured,
        "available": balance.available,
    }
