"""Charging a send: check, draw the credits in draw-down order, journal it; in one transaction.

The hot path of the product. A batch of charges shares one transaction: each balance row is
locked once, each account's lots read once, and the writes go out as a few multi-row statements,
so a charge costs a bounded number of statements whatever the size of the history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.exc import IntegrityError

from postmeter.domain.amounts import check_credits
from postmeter.domain.books import CHARGE, USAGE, Balance, Posting
from postmeter.domain.errors import (
    IdempotencyConflict,
    NotFound,
    PostmeterError,
)
from postmeter.domain.idempotency import check_key
from postmeter.domain.lots import Lot, draw_key, plan_draw
from postmeter.domain.validate import check_text, is_code, is_ref
from postmeter.service import lookup
from postmeter.service.context import Actor, Context
from postmeter.service.once import key_taken
from postmeter.service.posting import take
from postmeter.store.booking import Booking
from postmeter.store.uow import StoredTxn, Tx

OPERATION = "charge"


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    key: str
    account: str
    unit: str
    credits: int
    reference: str | None = None  # the caller's own id for the send (message, campaign)


@dataclass(frozen=True, slots=True)
class Charge:
    txn_id: int
    account: str
    unit: str
    credits: int
    drawn: list[list[int]]  # [lot id, credits] in draw-down order
    overage: int  # credits billed as pay-as-you-go beyond the lots
    balance: int  # after the charge
    available: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """One item of a batch: its charge, or the error that refused it (nothing booked)."""

    request: ChargeRequest
    charge: Charge | None = None
    error: PostmeterError | None = None


def charge(ctx: Context, actor: Actor, request: ChargeRequest) -> Charge:
    """Charge one send, or raise why not (InsufficientCredits names the shortfall)."""
    outcome = charge_batch(ctx, actor, [request])[0]
    if outcome.error is not None:
        raise outcome.error
    assert outcome.charge is not None
    return outcome.charge


def charge_batch(ctx: Context, actor: Actor, requests: Sequence[ChargeRequest]) -> list[Outcome]:
    """Charge many sends in one transaction; each gets its own outcome, in order.

    A refused item books nothing and does not stop the others. Every item has its own
    idempotency key: a key seen before replays its first result.
    """
    for attempt in (1, 2):
        try:
            with ctx.store.write() as tx:
                return _Batch(tx, ctx.clock.now(), actor).run(requests)
        except IntegrityError:
            # Another transaction committed one of our keys first: run again, which replays it.
            if attempt == 2 or not any(key_taken(ctx, actor, r.key) for r in requests):
                raise
    raise AssertionError("unreachable")


@dataclass
class _Account:
    row: Any
    refusal: PostmeterError | None


@dataclass
class _Pending:
    """A charge drawn in memory, waiting to be written with the rest of the batch."""

    request: ChargeRequest
    fingerprint: str
    balance: Balance
    postings: list[Posting]
    result: dict[str, Any]
    overage: int


@dataclass
class _Batch:
    tx: Tx
    now: datetime
    actor: Actor
    accounts: dict[str, _Account] = field(default_factory=dict)
    lots: dict[tuple[int, str], list[Lot]] = field(default_factory=dict)
    balances: dict[tuple[int, str], Balance] = field(default_factory=dict)
    spent: dict[tuple[int, str], int] = field(default_factory=dict)  # drawn, not yet written

    def run(self, requests: Sequence[ChargeRequest]) -> list[Outcome]:
        fingerprints: dict[int, str] = {}
        outcomes: dict[int, Outcome] = {}
        for i, request in enumerate(requests):
            try:
                fingerprints[i] = _validate(request)
            except PostmeterError as exc:
                outcomes[i] = Outcome(request, error=exc)
        if len(fingerprints) == 1:
            stored = self._preload(requests[next(iter(fingerprints))])
        else:
            stored = self.tx.find_txns(self.actor.scope, [requests[i].key for i in fingerprints])
        pending: dict[str, _Pending] = {}  # by key: the first booking of each key in the batch
        repeats: list[int] = []
        for i, fp in fingerprints.items():
            request = requests[i]
            prior = stored.get(request.key)
            if prior is not None:
                outcomes[i] = _replay(request, fp, prior)
            elif request.key in pending:
                repeats.append(i)
            else:
                try:
                    pending[request.key] = self._draw(request, fp)
                except PostmeterError as exc:
                    outcomes[i] = Outcome(request, error=exc)
        booked = self._book(list(pending.values()))
        for i, fp in fingerprints.items():
            if i in outcomes:
                continue
            prior = booked[requests[i].key]
            if i in repeats:
                outcomes[i] = _replay(requests[i], fp, prior)
            else:
                outcomes[i] = Outcome(requests[i], charge=Charge(txn_id=prior.id, **prior.result))
        return [outcomes[i] for i in range(len(requests))]

    def _preload(self, request: ChargeRequest) -> dict[str, StoredTxn]:
        """A lone charge reads all it needs in one statement (the hot path's common case)."""
        load = self.tx.load_charge(self.actor.scope, request.key, request.account, request.unit)
        if load is None:
            return self.tx.find_txns(self.actor.scope, [request.key])
        if load.prior is not None:
            return {request.key: load.prior}
        self.accounts[request.account] = self._checked(load.account)
        key = (load.balance.account_id, load.balance.unit)
        self.balances[key] = load.balance
        self.lots[key] = sorted(load.lots, key=draw_key)
        self.spent[key] = 0
        return {}

    def _draw(self, request: ChargeRequest, fp: str) -> _Pending:
        account = self._account(request.account)
        if account.refusal is not None:
            raise account.refusal
        key = (account.row.id, request.unit)
        if key not in self.balances:
            self.balances.update(self.tx.lock_balances([key]))
            self.lots[key] = sorted(self.tx.live_lots(*key), key=draw_key)
            self.spent[key] = 0
        balance, lots = self.balances[key], self.lots[key]
        free = max(balance.available - self.spent[key], 0)
        draw = plan_draw(lots, min(request.credits, free), self.now, ordered=True)
        drawn = min(request.credits, free) - draw.shortfall
        short = request.credits - drawn
        if short and not balance.has_payg:
            raise lookup.shortfall(self.tx, request.account, request.unit, short, drawn)
        postings = take(lots, draw, CHARGE, USAGE)
        self.spent[key] += drawn
        result = {
            "account": request.account,
            "unit": request.unit,
            "credits": request.credits,
            "drawn": [list(take) for take in draw.takes],
            "overage": short,
            "balance": balance.balance - self.spent[key],
            "available": balance.available - self.spent[key],
        }
        return _Pending(request, fp, balance, postings, result, short)

    def _account(self, ref: str) -> _Account:
        if ref not in self.accounts:
            self.accounts[ref] = self._checked(lookup.account(self.tx, ref))
        return self.accounts[ref]

    def _checked(self, row: Any) -> _Account:
        try:
            lookup.check_active(self.tx, row)
        except PostmeterError as exc:
            return _Account(row, exc)
        return _Account(row, None)

    def _book(self, pending: list[_Pending]) -> dict[str, StoredTxn]:
        """Write the transactions, their postings and overages: one booking for the batch."""
        if not pending:
            return {}
        step = Booking()
        for p in pending:
            step.txns.append(  # in booking.TXN_COLUMNS order
                (
                    self.actor.scope,
                    p.request.key,
                    p.fingerprint,
                    OPERATION,
                    p.balance.root_id,
                    self.actor.name,
                    p.request.reference,
                    _result_json(p.result),
                    self.now,
                )
            )
            step.post(p.balance, p.request.key, p.postings, self.now)
            if p.overage:
                step.overages.append((p.request.key, self._overage_row(p)))
        ids = self.tx.write(step)
        return {
            p.request.key: StoredTxn(ids[p.request.key], p.fingerprint, p.result) for p in pending
        }

    def _overage_row(self, p: _Pending) -> dict[str, Any]:
        b = p.balance
        return {
            "account_id": b.account_id,
            "unit": b.unit,
            "root_id": b.root_id,
            "credits": p.overage,
            "price_minor": b.payg_price_minor,
            "price_per": b.payg_price_per,
            "currency": b.payg_currency,
            "created_at": self.now,
        }


def _replay(request: ChargeRequest, fp: str, prior: StoredTxn) -> Outcome:
    if prior.fingerprint != fp:
        return Outcome(
            request,
            error=IdempotencyConflict(
                f"idempotency key {request.key!r} was used before for a different request",
                key=request.key,
            ),
        )
    return Outcome(request, charge=Charge(txn_id=prior.id, replayed=True, **prior.result))


def _validate(request: ChargeRequest) -> str:
    check_key(request.key)
    check_credits(request.credits)
    if not is_ref(request.account):
        raise NotFound(f"no account {request.account!r}", account=request.account)
    if not is_code(request.unit):
        raise NotFound(f"no unit {request.unit!r}", unit=request.unit)
    if request.reference is not None:
        check_text(request.reference, "reference")
    # Built by hand rather than through JSON: this runs once per charge on the hot path.
    fields = (OPERATION, request.account, request.unit, str(request.credits), request.reference)
    return hashlib.sha256(repr(fields).encode()).hexdigest()


def _result_json(result: dict[str, Any]) -> str:
    """The charge result as stored for replays, built by hand: json.dumps costs more than the
    rest of a batched charge. Equal to ``json.dumps(result, separators=(",", ":"))``."""
    drawn = ",".join(f"[{lot_id},{n}]" for lot_id, n in result["drawn"])
    return (
        f'{{"account":{_quoted(result["account"])},"unit":{_quoted(result["unit"])},'
        f'"credits":{result["credits"]},"drawn":[{drawn}],"overage":{result["overage"]},'
        f'"balance":{result["balance"]},"available":{result["available"]}}}'
    )


@cache
def _quoted(text: str) -> str:
    return json.dumps(text)
