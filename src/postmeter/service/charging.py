"""Charging a send: check, draw the credits in draw-down order, journal it; in one transaction.

The hot path of the product. A batch of charges shares one transaction: each balance row is
locked once, each account's lots read once, and the writes go out as a few multi-row statements,
so a charge costs a bounded number of statements whatever the size of the history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy.exc import IntegrityError

from postmeter.domain.amounts import check_credits
from postmeter.domain.assignments import Pool
from postmeter.domain.books import CHARGE, USAGE, Balance
from postmeter.domain.errors import (
    AssignmentExhausted,
    CapReached,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidInput,
    NotFound,
    PostmeterError,
)
from postmeter.domain.idempotency import check_key
from postmeter.domain.lots import Lot, draw_key, plan_draw
from postmeter.domain.senders import ASSIGNMENT, SenderCredits, plan_spend
from postmeter.domain.statuses import SenderStatus, check_can_send
from postmeter.domain.validate import check_text, is_code, is_ref
from postmeter.service import lookup, senders
from postmeter.service.context import Actor, Context
from postmeter.service.once import key_taken
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
    sender: str | None = None  # the account's domain or list that sends: its limits apply


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


def charge_batch(
    ctx: Context, actor: Actor, requests: Sequence[ChargeRequest], *, atomic: bool = False
) -> list[Outcome]:
    """Charge many sends in one transaction; each gets its own outcome, in order.

    A refused item books nothing and does not stop the others. Every item has its own
    idempotency key: a key seen before replays its first result. ``atomic``: all or nothing,
    the first refused item's error is raised and nothing is booked (a send priced country by
    country is one such batch); a batch booked before replays whole, or is refused.
    """
    # First try: a batch books without looking its keys up, as the unique index refuses a key
    # seen before anyway (a look-up of a thousand keys costs a fifth of a batched charge). When
    # it does refuse one, the batch runs again looking them up, and replays what it finds.
    optimistic = len(requests) > 1
    for attempt in (1, 2, 3):
        try:
            with ctx.store.write() as tx:
                return _Batch(tx, ctx.clock.now(), actor).run(
                    requests, look_up=not optimistic, atomic=atomic
                )
        except IntegrityError:
            if optimistic:
                optimistic = False
                continue
            # Another transaction committed one of our keys first: run again, which replays it.
            if attempt == 3 or not any(key_taken(ctx, actor, r.key) for r in requests):
                raise
    raise AssertionError("unreachable")


# What a replay returns: a charge less its transaction id and replay flag.
_RESULT_FIELDS = tuple(f.name for f in fields(Charge) if f.name not in ("txn_id", "replayed"))


@dataclass
class _Account:
    row: Any
    refusal: PostmeterError | None


@dataclass(slots=True)
class _Books:
    """One account and unit as the batch sees it: the locked balance row, the live lots in
    draw-down order and how far the earlier charges have used them up."""

    balance: Balance
    lots: list[Lot]
    spent: int = 0  # drawn by this batch, not yet written
    from_assignments: int = 0  # the part of ``spent`` drawn by senders out of their assignments
    first: int = 0  # lots before this index have nothing free left

    @property
    def unassigned(self) -> int:
        """What a sender without an assignment may still spend: DOMAIN.md's "available"."""
        b = self.balance
        return b.balance - b.reserved - b.assigned - self.spent + self.from_assignments

    def draw(
        self, credits: int, requested: int, now: datetime
    ) -> tuple[tuple[tuple[int, int], ...], int]:
        """Take ``credits`` of the ``requested`` from the lots; returns the takes and what they
        could not give.

        The lots are only used up when they give all that is requested, or when the rest may be
        billed as pay-as-you-go: a refused charge leaves them as they were for the batch's rest.
        """
        whole = credits == requested or self.balance.has_payg
        lots = self.lots
        while self.first < len(lots) and lots[self.first].remaining <= lots[self.first].held:
            self.first += 1
        if self.first < len(lots):
            lot = lots[self.first]
            # The common case: the first lot with credits covers the whole charge.
            if whole and lot.remaining - lot.held >= credits and lot.is_live(now):
                lot.remaining -= credits
                return ((lot.id, credits),), 0
        draw = plan_draw(lots[self.first :], credits, now, ordered=True)
        if whole and (draw.shortfall == 0 or self.balance.has_payg):
            by_id = {lot.id: lot for lot in lots}
            for lot_id, taken in draw.takes:
                by_id[lot_id].remaining -= taken
        return draw.takes, draw.shortfall


@dataclass(slots=True)
class _Sender:
    """A sender as the batch sees it: its limits, moved in memory, written with the booking."""

    id: int
    name: str
    unit: str
    mode: str
    cap: int | None
    used: int  # this period, against the cap
    since: datetime  # the start of this period
    assigned: int  # what is left of its assignment
    refusal: PostmeterError | None
    changed: bool = False

    def check(self, request: ChargeRequest) -> None:
        """The sender is active, sends this unit, and its cap or assignment has room."""
        if self.refusal is not None:
            raise self.refusal
        if request.unit != self.unit:
            raise InvalidInput(
                f"sender {self.name!r} sends {self.unit} credits, not {request.unit}",
                sender=self.name,
            )
        limits = SenderCredits(self.name, self.mode, self.cap or 0, self.used, self.assigned)
        # Only the sender's own room is checked here (CapReached, AssignmentExhausted): the
        # account's credits are the draw's to find, so the pool given is just the assignment.
        plan_spend(limits, request.credits, Pool(self.assigned, 0, self.assigned))

    def spend(self, credits: int) -> None:
        if self.mode == ASSIGNMENT:
            self.assigned -= credits
        self.used += credits
        self.changed = True


class _Pending(NamedTuple):
    """A charge drawn in memory, waiting to be written with the rest of the batch."""

    position: int  # in the batch
    request: ChargeRequest
    fingerprint: str
    books: _Books
    sender: _Sender | None
    takes: tuple[tuple[int, int], ...]
    overage: int
    balance: int  # after the charge
    available: int

    def charge(self, txn_id: int) -> Charge:
        r = self.request
        drawn = [list(t) for t in self.takes]
        return Charge(
            txn_id, r.account, r.unit, r.credits, drawn, self.overage, self.balance, self.available
        )

    def result(self) -> dict[str, Any]:
        """What a replay of the charge returns (the charge less its transaction id)."""
        charge = self.charge(0)
        return {f: getattr(charge, f) for f in _RESULT_FIELDS}

    def result_json(self) -> str:
        """The result as stored for replays, built by hand: json.dumps costs more than the rest
        of a batched charge. Equal to ``json.dumps(asdict(charge) minus txn_id and replayed)``."""
        r = self.request
        drawn = ",".join(f"[{lot_id},{n}]" for lot_id, n in self.takes)
        return (
            f'{{"account":{_quoted(r.account)},"unit":{_quoted(r.unit)},'
            f'"credits":{r.credits},"drawn":[{drawn}],"overage":{self.overage},'
            f'"balance":{self.balance},"available":{self.available}}}'
        )


@dataclass
class _Batch:
    tx: Tx
    now: datetime
    actor: Actor
    accounts: dict[str, _Account] = field(default_factory=dict)
    books: dict[tuple[int, str], _Books] = field(default_factory=dict)
    senders: dict[tuple[int, str], _Sender] = field(default_factory=dict)

    def run(
        self, requests: Sequence[ChargeRequest], *, look_up: bool, atomic: bool = False
    ) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(requests)
        valid: list[tuple[int, str]] = []  # (index, fingerprint)
        for i, request in enumerate(requests):
            try:
                valid.append((i, _validate(request)))
            except PostmeterError as exc:
                outcomes[i] = Outcome(request, error=exc)
        stored: dict[str, StoredTxn] = {}
        if len(valid) == 1:
            stored = self._preload(requests[valid[0][0]])
        elif valid:
            self._preload_many([requests[i] for i, _ in valid])
            if look_up:
                stored = self.tx.find_txns(self.actor.scope, [requests[i].key for i, _ in valid])
        pending: dict[str, _Pending] = {}  # by key: the first booking of each key in the batch
        repeats: list[tuple[int, str]] = []
        refused: list[tuple[int, str]] = []
        for i, fp in valid:
            request = requests[i]
            prior = stored.get(request.key)
            if prior is not None:
                outcomes[i] = _replay(request, fp, prior)
            elif request.key in pending:
                repeats.append((i, fp))
            else:
                try:
                    pending[request.key] = self._draw(i, request, fp)
                except PostmeterError as exc:
                    outcomes[i] = Outcome(request, error=exc)
                    refused.append((i, fp))
        if refused and not look_up:
            # Unlooked-up keys: a refused item may be the replay of a charge booked before,
            # which must answer as it did then (lots a refusal leaves untouched: nothing to undo).
            self._replay_refused(requests, refused, outcomes)
        if atomic:
            self._short_as_a_whole(requests, outcomes)
            _all_or_nothing(requests, outcomes, pending, repeats)
        ids = self._book(pending.values())
        for p in pending.values():
            outcomes[p.position] = Outcome(p.request, charge=p.charge(ids[p.request.key]))
        for i, fp in repeats:
            p = pending[requests[i].key]
            prior = StoredTxn(ids[p.request.key], p.fingerprint, p.result())
            outcomes[i] = _replay(requests[i], fp, prior)
        return cast(list[Outcome], outcomes)

    def _short_as_a_whole(
        self, requests: Sequence[ChargeRequest], outcomes: list[Outcome | None]
    ) -> None:
        """An all-or-nothing batch refused for credits says what the whole batch lacks (a send
        to many countries), not what the item that found the lots empty lacked."""
        i, first = next(((i, o) for i, o in enumerate(outcomes) if o and o.error), (0, None))
        if first is None or not isinstance(first.error, InsufficientCredits):
            return
        r = first.request
        books = self.books.get((self.accounts[r.account].row.id, r.unit))
        if books is None:
            return
        b = books.balance  # as read: the batch's draws are not written to it yet
        available = max(b.balance - b.reserved - b.assigned, 0)
        wanted = sum(q.credits for q in requests if (q.account, q.unit) == (r.account, r.unit))
        if wanted > available:
            short = lookup.shortfall(self.tx, r.account, r.unit, wanted - available, available)
            outcomes[i] = Outcome(r, error=short)

    def _replay_refused(
        self,
        requests: Sequence[ChargeRequest],
        refused: list[tuple[int, str]],
        outcomes: list[Outcome | None],
    ) -> None:
        stored = self.tx.find_txns(self.actor.scope, [requests[i].key for i, _ in refused])
        for i, fp in refused:
            prior = stored.get(requests[i].key)
            if prior is not None:
                outcomes[i] = _replay(requests[i], fp, prior)

    def _preload(self, request: ChargeRequest) -> dict[str, StoredTxn]:
        """A lone charge reads all it needs in one statement (the hot path's common case)."""
        load = self.tx.load_charge(self.actor.scope, request.key, request.account, request.unit)
        if load is None:
            return self.tx.find_txns(self.actor.scope, [request.key])
        if load.prior is not None:
            return {request.key: load.prior}
        self.accounts[request.account] = self._checked(load.account)
        key = (load.balance.account_id, load.balance.unit)
        self.books[key] = _Books(load.balance, sorted(load.lots, key=draw_key))
        return {}

    def _preload_many(self, requests: Sequence[ChargeRequest]) -> None:
        """Read the books of every account and unit of a batch at once (in the lock order)."""
        loads = self.tx.load_books((r.account, r.unit) for r in requests)
        for (ref, _), load in loads.items():
            if ref not in self.accounts:
                self.accounts[ref] = self._checked(load.account)
            key = (load.balance.account_id, load.balance.unit)
            self.books[key] = _Books(load.balance, sorted(load.lots, key=draw_key))

    def _draw(self, index: int, request: ChargeRequest, fp: str) -> _Pending:
        account = self.accounts.get(request.account) or self._account(request.account)
        if account.refusal is not None:
            raise account.refusal
        sender = None
        if request.sender is not None:
            sender = self._sender(account.row, request.sender)
            try:
                sender.check(request)
            except (CapReached, AssignmentExhausted) as exc:
                raise _in_credits(self.tx, exc, request.unit) from None
        key = (account.row.id, request.unit)
        books = self.books.get(key) or self._load(key)
        balance = books.balance
        assigned = sender is not None and sender.mode == ASSIGNMENT
        # An assigned sender spends its assignment (checked above); the others, the pool.
        free = request.credits if assigned else books.unassigned
        wanted = request.credits if request.credits <= free else max(free, 0)
        takes, shortfall = books.draw(wanted, request.credits, self.now)
        drawn = wanted - shortfall
        short = request.credits - drawn
        if short and (assigned or not balance.has_payg):
            raise lookup.shortfall(self.tx, request.account, request.unit, short, drawn)
        books.spent += drawn
        if assigned:
            books.from_assignments += drawn
        if sender is not None:
            sender.spend(request.credits)
        after = balance.balance - books.spent
        return _Pending(
            index,
            request,
            fp,
            books,
            sender,
            takes,
            short,
            after,
            after - balance.reserved - balance.assigned + books.from_assignments,
        )

    def _sender(self, account: Any, name: str) -> _Sender:
        found = self.senders.get((account.id, name))
        if found is not None:
            return found
        row = senders.find_for_charge(self.tx, account.id, name)
        if row is None:
            raise NotFound(f"account {account.ref!r} has no sender {name!r}", sender=name)
        full = self.tx.account_by_id(account.id)
        assert full is not None
        since = senders.cap_period_start(self.tx, full, row.unit, self.now)
        used = row.cap_used if row.cap_since is not None and row.cap_since >= since else 0
        refusal = None
        try:
            check_can_send(name, SenderStatus(row.status, row.unblock_requested))
        except PostmeterError as exc:
            refusal = exc
        found = _Sender(
            row.id, name, row.unit, row.mode, row.cap, used, since, row.assigned, refusal
        )
        self.senders[(account.id, name)] = found
        return found

    def _load(self, key: tuple[int, str]) -> _Books:
        balances = self.tx.lock_balances([key])
        books = _Books(balances[key], sorted(self.tx.live_lots(*key), key=draw_key))
        self.books[key] = books
        return books

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

    def _book(self, pending: Iterable[_Pending]) -> dict[str, int]:
        """Write the transactions, their entries and overages: one booking for the batch."""
        step = Booking()
        scope, actor, now = self.actor.scope, self.actor.name, self.now
        txns, entries, lots = step.txns, step.entries, step.lots
        for p in pending:
            b = p.books.balance
            key = p.request.key
            # in booking.TXN_COLUMNS order
            txns.append(
                (scope, key, p.fingerprint, OPERATION, b.root_id, actor, p.request.reference,
                 p.result_json(), now)
            )  # fmt: skip
            sender_id = None if p.sender is None else p.sender.id
            running = p.balance + sum(n for _, n in p.takes)
            for lot_id, n in p.takes:
                running -= n
                net = lots.get(lot_id)
                if net is None:
                    lots[lot_id] = [-n, 0]
                else:
                    net[0] -= n
                # in booking.ENTRY_COLUMNS order
                entries.append(
                    (key, (b.account_id, b.unit, b.root_id, lot_id, CHARGE, -n, 0, running,
                           USAGE, sender_id, now))
                )  # fmt: skip
            if p.overage:
                step.overages.append((key, self._overage_row(p)))
        for books in self.books.values():
            if books.spent:
                books.balance.balance -= books.spent
                books.balance.assigned -= books.from_assignments
                step.balances[(books.balance.account_id, books.balance.unit)] = books.balance
        if not txns:
            return {}
        changed = [s for s in self.senders.values() if s.changed]
        if changed:
            self.tx.update_senders([(s.id, s.used, s.since, s.assigned) for s in changed])
        return self.tx.write(step, last=True)

    def _overage_row(self, p: _Pending) -> dict[str, Any]:
        b = p.books.balance
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


def _all_or_nothing(
    requests: Sequence[ChargeRequest],
    outcomes: list[Outcome | None],
    pending: dict[str, _Pending],
    repeats: list[tuple[int, str]],
) -> None:
    """Raise (so the transaction rolls back) unless the whole batch books, or replays, as one."""
    for outcome in outcomes:
        if outcome is not None and outcome.error is not None:
            raise outcome.error
    clash = next((i for i, fp in repeats if fp != pending[requests[i].key].fingerprint), None)
    if clash is not None:
        key = requests[clash].key
        raise IdempotencyConflict(f"idempotency key {key!r} is used twice in the batch", key=key)
    # No errors: the outcomes set so far are replays. Beside new charges, they say the batch
    # differs from the one booked before under these keys.
    if pending and any(o is not None for o in outcomes):
        raise IdempotencyConflict(
            "some of the batch's keys were booked before and others not: an all-or-nothing "
            "batch replays whole, or is a different request"
        )


def _in_credits(
    tx: Tx, exc: CapReached | AssignmentExhausted, unit_code: str
) -> CapReached | AssignmentExhausted:
    """A sender's refusal said in the unit's credits (the domain counts in steps)."""
    unit = lookup.unit(tx, unit_code)
    room, short = exc.details["room"], exc.details["shortfall"]
    what = "assignment" if isinstance(exc, AssignmentExhausted) else "cap for this period"
    return type(exc)(
        f"sender {exc.details['sender']!r} has {unit.format(room)} credits left of its {what};"
        f" this needs {unit.format(room + short)}",
        sender=exc.details["sender"],
        unit=unit_code,
        room=room,
        shortfall=short,
    )


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
    fields: tuple[str | None, ...] = (
        OPERATION, request.account, request.unit, str(request.credits), request.reference
    )  # fmt: skip
    if request.sender is not None:
        check_text(request.sender, "sender", senders.MAX_NAME)
        fields += (request.sender,)
    return hashlib.sha256(repr(fields).encode()).hexdigest()


@cache
def _quoted(text: str) -> str:
    return json.dumps(text)
