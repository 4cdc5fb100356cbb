"""A reference model of the books, in plain Python, and read-outs of the engine to compare it with.

The model re-states DOMAIN.md without the engine's code: accounts hold lots (remaining, held,
expiry); a debit takes the lots in the draw-down order (free allowance first, then soonest expiry,
never-expiring last, then oldest, then id); plan periods are granted as time passes, each exactly
once, and expire at their period's end; reservations hold credits and give them back to their own
lots; idempotency keys replay what went through and refuse another request.

Child accounts [white label]: a parent adds credits to a direct child (one new lot in the child
that never expires, drawn from the parent's lots in draw-down order) or takes back what the child
holds of its gifts, neither spent nor reserved nor set aside for a sender (one new lot in the
parent that expires with its plan's period); never between trees. Each given lot keeps its own
journal (in, back, used), from which a reseller's books are read: C what children hold of its
gifts, D what left them this period other than coming back, B its own available credits, A the
plan's credits (or C when the period began, if more). A period of a reseller plan grants the plan
less C as it stood when the period began: at renewal C stays, D goes to 0, and B = A - C.

The only thing the model takes from the engine is identity: the ids of lots, reservations and
subscriptions, learnt from the engine's answers or from its lots table (``engine_lots``).
Refusals are :class:`Refusal` exceptions naming the engine's error class, so a test can compare.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

import postmeter as pm
from postmeter.store import tables as t

FREE = "free"
PLAN = "plan"
PACKAGE = "package"
ADJUSTMENT = "adjustment"
ROLLING = "days"
MONTHLY = "monthly"
HELD = "held"
TRANSFER = "transfer"
FREE_ACCESS, CAP, ASSIGNMENT = "free_access", "cap", "assignment"
# What a given lot's journal says: credits in from the parent, back to it, or used otherwise.
GIVEN_IN, GIVEN_BACK, USED = "in", "back", "used"
# Sender status changes: (the states an action starts from, the state it leaves).
SENDER_MOVES = {
    "suspend": (("active",), "suspended"),
    "resume": (("suspended",), "active"),
    "block": (("active", "suspended"), "blocked"),
    "unblock": (("blocked",), "active"),
}
FOREVER = datetime.max.replace(tzinfo=UTC)
MAX_HOLD = timedelta(days=366)


class Refusal(Exception):
    """What the engine should refuse with: its error class name, and the shortfall if any."""

    def __init__(self, kind: str, shortfall: int | None = None) -> None:
        super().__init__(kind, shortfall)
        self.kind = kind
        self.shortfall = shortfall


# -- calendar ---------------------------------------------------------------------------------


def add_months(when: datetime, months: int, tz: str) -> datetime:
    """Calendar months in the zone ``tz``, keeping the wall-clock time, clamping the day."""
    here = when.astimezone(ZoneInfo(tz))
    years, month0 = divmod(here.month - 1 + months, 12)
    year = here.year + years
    day = min(here.day, calendar.monthrange(year, month0 + 1)[1])
    return here.replace(year=year, month=month0 + 1, day=day).astimezone(UTC)


def monthly_boundary(started_at: datetime, anchor: int, tz: str, k: int) -> datetime:
    """The k-th local midnight on the (clamped) anchor day strictly after ``started_at``."""
    zone = ZoneInfo(tz)
    here = started_at.astimezone(zone)
    year, month, found = here.year, here.month, 0
    while True:
        day = min(anchor, calendar.monthrange(year, month)[1])
        midnight = datetime(year, month, day, tzinfo=zone).astimezone(UTC)
        if midnight > started_at:
            found += 1
            if found == k:
                return midnight
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


# -- the things the books hold ------------------------------------------------------------------


@dataclass
class Lot:
    account: str
    source: str
    amount: int
    created_at: datetime
    expires_at: datetime | None
    origin: tuple[Hashable, ...]  # how to find the engine's lot: ("period", sub id, index), ...
    remaining: int = -1
    held: int = 0
    id: int = 0  # the engine's id, once learnt
    giver: str | None = None  # the parent that gave it (a transfer to a child)
    log: list[tuple[datetime, int, str]] = field(default_factory=list)  # a given lot's journal

    def __post_init__(self) -> None:
        if self.remaining < 0:
            self.remaining = self.amount

    @property
    def free(self) -> int:
        return self.remaining - self.held

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def rank(self) -> tuple[bool, datetime, datetime, int]:
        """Draw-down order: free allowance first, soonest expiry (never last), oldest, id."""
        return (self.source != FREE, self.expires_at or FOREVER, self.created_at, self.id)


@dataclass(frozen=True)
class Plan:
    code: str
    credits: int
    kind: str  # ROLLING or MONTHLY
    days: int | None = None
    free: bool = False
    seats: int = 0  # a plan with seats is a reseller plan: that many open children


@dataclass(frozen=True)
class Package:
    code: str
    credits: int
    months: int = 0
    days: int = 0


@dataclass
class Subscription:
    account: str
    plan: Plan
    started_at: datetime
    tz: str
    anchor_day: int | None
    serial: int  # the model's own name for it, before the engine's id is known
    next_index: int = 1
    id: int = 0

    def boundary(self, k: int) -> datetime:
        if k == 0:
            return self.started_at
        if self.plan.kind == ROLLING:
            assert self.plan.days is not None
            return self.started_at + k * timedelta(days=self.plan.days)
        assert self.anchor_day is not None
        return monthly_boundary(self.started_at, self.anchor_day, self.tz, k)

    @property
    def next_renewal_at(self) -> datetime:
        return self.boundary(self.next_index)


@dataclass
class Reservation:
    account: str
    credits: int
    deadline_at: datetime
    holds: list[tuple[Lot, int]]
    status: str = HELD
    id: int = 0

    @property
    def held(self) -> int:
        return sum(n for _, n in self.holds) if self.status == HELD else 0


@dataclass
class Sender:
    """A domain or list of an account: how it shares the credits, and its state."""

    name: str
    mode: str = FREE_ACCESS
    cap: int | None = None
    used: int = 0  # against the cap, since ``since``
    since: datetime | None = None
    assigned: int = 0  # what is left of its assignment
    state: str = "active"


@dataclass
class Account:
    ref: str
    parent: str | None
    tz: str
    created_at: datetime
    status: str = "active"
    payg: bool = False
    overage: int = 0
    lots: list[Lot] = field(default_factory=list)
    senders: dict[str, Sender] = field(default_factory=dict)  # in creation (id) order
    # Whether it ever held or moved credits other than a reseller plan's (sign-up, grant,
    # package, another plan, a send, a hold, an assignment): only an account that never did
    # must keep A = B + C + D exactly (service/resellers.py, ``keeps_to_its_plan``).
    mixed: bool = False

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots)

    @property
    def reserved(self) -> int:
        return sum(lot.held for lot in self.lots)

    @property
    def assigned(self) -> int:
        return sum(sender.assigned for sender in self.senders.values())

    @property
    def available(self) -> int:
        """What a send without an assignment can spend: nor reserved, nor set aside."""
        return self.balance - self.reserved - self.assigned


@dataclass(frozen=True)
class Charged:
    """What a charge should answer."""

    drawn: list[list[int]]
    overage: int
    balance: int
    available: int
    replayed: bool = False


@dataclass
class TickStats:
    renewals: int = 0
    timeouts: int = 0
    expired_credits: int = 0
    new_lots: list[Lot | None] = field(default_factory=list)


@dataclass(frozen=True)
class Moved:
    """What a transfer should answer: + added to the child, - taken back."""

    credits: int
    takes: list[tuple[Lot, int]]  # from the giver, in draw-down order
    lot: Lot  # the receiver's new lot
    parent: Account
    child: Account


@dataclass(frozen=True)
class ResellerFigures:
    """A reseller's books and plan summary, as ``reseller_books`` shows them."""

    a: int
    b: int
    c: int
    d: int
    users_created: int
    users_allowed: int
    period_start_at: str
    renews_at: str


# -- the model ----------------------------------------------------------------------------------


class Model:
    """The books of one operator, in one unit, as DOMAIN.md tells them."""

    def __init__(
        self,
        now: datetime,
        *,
        extend_on_purchase: bool = False,
        signup_credits: int = 0,
        signup_days: int | None = None,
    ) -> None:
        self.now = now
        self.extend_on_purchase = extend_on_purchase
        self.signup_credits = signup_credits
        self.signup_days = signup_days
        self.accounts: dict[str, Account] = {}
        self.subscriptions: list[Subscription] = []
        self.reservations: list[Reservation] = []
        self.keys: dict[str, Hashable] = {}  # idempotency: what each key did, once it went through
        self.charges: dict[str, Charged] = {}  # the first answer of each charge key
        self.breakage = 0
        self._serials = itertools.count(1)

    # -- idempotency -------------------------------------------------------------------------

    def is_replay(self, key: str, request: Hashable) -> bool:
        """True when ``key`` went through for this very request; refuses another request."""
        if key not in self.keys:
            return False
        if self.keys[key] != request:
            raise Refusal("IdempotencyConflict")
        return True

    # -- accounts ---------------------------------------------------------------------------

    def create_account(self, ref: str, parent: str | None, tz: str) -> Account:
        if parent is not None:
            self._check_seat(parent)
        account = Account(ref, parent, tz, self.now)
        self.accounts[ref] = account
        if self.signup_credits:
            days = self.signup_days
            expires_at = self.now + timedelta(days=days) if days else None
            self._add_lot(ref, FREE, self.signup_credits, expires_at, ("signup", ref))
        return account

    def set_status(self, ref: str, status: str) -> None:
        account = self.accounts[ref]
        if account.status == "closed" and status != "closed" and account.parent is not None:
            self._check_seat(account.parent)  # a reopened child takes a seat again
        account.status = status

    def seats(self, ref: str) -> int | None:
        """How many open children ``ref`` may have: the most its plans with seats allow."""
        allowed = [s.plan.seats for s in self.subscriptions if s.account == ref and s.plan.seats]
        return max(allowed) if allowed else None

    def users_created(self, ref: str) -> int:
        """Its child accounts that are not closed (each takes a seat)."""
        return sum(1 for a in self.accounts.values() if a.parent == ref and a.status != "closed")

    def _check_seat(self, parent: str) -> None:
        seats = self.seats(parent)
        if seats is not None and self.users_created(parent) >= seats:
            raise Refusal("SeatsExhausted")

    def root(self, ref: str) -> str:
        while (parent := self.accounts[ref].parent) is not None:
            ref = parent
        return ref

    def set_payg(self, ref: str, on: bool) -> None:
        self.accounts[ref].payg = on

    def active(self, ref: str) -> Account:
        """The account, if it and every account above it are active."""
        if ref not in self.accounts:
            raise Refusal("NotFound")
        account: Account | None = self.accounts[ref]
        while account is not None:
            if account.status != "active":
                raise Refusal("AccountInactive")
            account = self.accounts[account.parent] if account.parent else None
        return self.accounts[ref]

    # -- credits in -------------------------------------------------------------------------

    def grant(self, ref: str, credits: int, source: str, expires_at: datetime | None) -> Lot:
        if expires_at is not None and expires_at <= self.now:
            raise Refusal("InvalidInput")
        return self._add_lot(ref, source, credits, expires_at, ("grant",))

    def buy(self, ref: str, package: Package) -> tuple[Lot, list[Lot]]:
        account = self.active(ref)
        expires_at = add_months(self.now, package.months, account.tz)
        expires_at += timedelta(days=package.days)
        extended = []
        if self.extend_on_purchase:
            for lot in account.lots:
                assert lot.expires_at is not None or lot.source != PACKAGE
                if (
                    lot.source == PACKAGE
                    and lot.remaining > 0
                    and lot.expires_at is not None
                    and self.now < lot.expires_at < expires_at
                ):
                    lot.expires_at = expires_at
                    extended.append(lot)
        lot = self._add_lot(ref, PACKAGE, package.credits, expires_at, ("purchase",))
        return lot, sorted(extended, key=lambda x: x.id)

    def subscribe(self, ref: str, plan: Plan, anchor_day: int | None) -> Subscription:
        account = self.active(ref)
        if account.parent is not None:
            raise Refusal("Refused")  # a child has no plan: its parent gives it credits
        if any(s.account == ref and s.plan == plan for s in self.subscriptions):
            raise Refusal("InvalidState")
        if plan.kind == MONTHLY and anchor_day is None:
            anchor_day = self.now.astimezone(ZoneInfo(account.tz)).day
        if plan.free or not plan.seats or any(s.account == ref for s in self.subscriptions):
            account.mixed = True  # credits beyond one reseller plan's
        sub = Subscription(ref, plan, self.now, account.tz, anchor_day, next(self._serials))
        self.subscriptions.append(sub)
        self._grant_period(sub, 0)
        return sub

    def _grant_period(self, sub: Subscription, index: int) -> Lot | None:
        """The period's lot: the plan's credits, less C when the period began for the account's
        reseller plan (none at all when children hold the whole plan)."""
        credits = sub.plan.credits
        if self.reseller_subscription(sub.account) is sub:
            credits = max(credits - self.held_before(sub.account, sub.boundary(index)), 0)
        if credits == 0:
            return None
        source = FREE if sub.plan.free else PLAN
        lot = Lot(
            sub.account,
            source,
            credits,
            created_at=sub.boundary(index),
            expires_at=sub.boundary(index + 1),
            origin=("period", sub.serial, index),
        )
        self.accounts[sub.account].lots.append(lot)
        return lot

    def _add_lot(
        self,
        ref: str,
        source: str,
        credits: int,
        expires_at: datetime | None,
        origin: tuple[Hashable, ...],
    ) -> Lot:
        lot = Lot(ref, source, credits, self.now, expires_at, origin)
        self.accounts[ref].lots.append(lot)
        self.accounts[ref].mixed = True
        return lot

    def _spend(self, lot: Lot, n: int, why: str = USED) -> None:
        """Take ``n`` credits out of a lot; a given lot writes it in its journal."""
        lot.remaining -= n
        if lot.giver is not None and n:
            lot.log.append((self.now, -n, why))

    # -- credits out ------------------------------------------------------------------------

    def take_order(self, account: Account, credits: int) -> list[tuple[Lot, int]]:
        """What a debit of ``credits`` would take, lot by lot, without taking it."""
        takes = []
        for lot in sorted(account.lots, key=Lot.rank):
            if credits == 0:
                break
            if lot.live(self.now) and lot.free > 0:
                n = min(lot.free, credits)
                takes.append((lot, n))
                credits -= n
        return takes

    def charge(self, key: str, ref: str, credits: int, sender: str | None = None) -> Charged:
        """One charge under ``key``: its answer, a replay of the first, or a Refusal."""
        if credits <= 0:
            raise Refusal("InvalidAmount")
        request: tuple[Hashable, ...] = ("charge", ref, credits)
        if sender is not None:
            request += (sender,)
        if self.is_replay(key, request):
            first = self.charges[key]
            return Charged(first.drawn, first.overage, first.balance, first.available, True)
        account = self.active(ref)
        spender = self._sender_with_room(account, sender, credits)
        assigned = spender is not None and spender.mode == ASSIGNMENT
        # An assigned sender spends its assignment; the others what is neither held nor assigned.
        wanted = credits if assigned else min(credits, max(account.available, 0))
        takes = self.take_order(account, wanted)
        short = credits - sum(n for _, n in takes)
        if short and (assigned or not account.payg):
            raise Refusal("InsufficientCredits", short)
        for lot, n in takes:
            self._spend(lot, n)
        account.overage += short
        account.mixed = True
        if spender is not None:
            spender.used += credits
            if assigned:
                spender.assigned -= credits
        drawn = [[lot.id, n] for lot, n in takes]
        answer = Charged(drawn, short, account.balance, account.available)
        self.keys[key] = request
        self.charges[key] = answer
        return answer

    def _sender_with_room(self, account: Account, name: str | None, credits: int) -> Sender | None:
        if name is None:
            return None
        if name not in account.senders:
            raise Refusal("NotFound")
        sender = account.senders[name]
        if sender.state != "active":
            raise Refusal("SenderInactive")
        start = self.cap_period_start(account)
        if sender.since != start:
            sender.used, sender.since = 0, start
        if sender.mode == CAP and credits > max((sender.cap or 0) - sender.used, 0):
            raise Refusal("CapReached")
        if sender.mode == ASSIGNMENT and credits > sender.assigned:
            raise Refusal("AssignmentExhausted")
        return sender

    def cap_period_start(self, account: Account) -> datetime:
        """The current period of the account's first plan, else its calendar month."""
        subs = sorted(
            (s for s in self.subscriptions if s.account == account.ref), key=lambda s: s.id
        )

        def boundary(k: int) -> datetime:
            if subs:
                return subs[0].boundary(k)
            return (
                account.created_at
                if k == 0
                else monthly_boundary(account.created_at, 1, account.tz, k)
            )

        k = 0
        while boundary(k + 1) <= self.now:
            k += 1
        return boundary(k)

    # -- senders ----------------------------------------------------------------------------

    def create_sender(self, ref: str, name: str, mode: str, limit: int | None) -> Sender:
        account = self.accounts[ref]
        if name in account.senders:
            raise Refusal("AlreadyExists")
        self._check_assignment(account, 0, limit if mode == ASSIGNMENT else 0)
        sender = Sender(name)
        account.senders[name] = sender
        self._share_in(account, sender, mode, limit)
        return sender

    def set_sharing(self, ref: str, name: str, mode: str, limit: int | None) -> Sender:
        account = self.accounts[ref]
        sender = account.senders[name]
        self._check_assignment(account, sender.assigned, limit if mode == ASSIGNMENT else 0)
        self._share_in(account, sender, mode, limit)
        return sender

    def change_sender(self, ref: str, name: str, action: str) -> Sender:
        sender = self.accounts[ref].senders[name]
        starts, after = SENDER_MOVES[action]
        if sender.state not in starts:
            raise Refusal("InvalidState")
        sender.state = after
        return sender

    @staticmethod
    def _check_assignment(account: Account, current: int, wanted: int | None) -> None:
        growth = (wanted or 0) - current
        if growth > account.available:
            raise Refusal("InsufficientCredits", growth - account.available)

    def _share_in(self, account: Account, sender: Sender, mode: str, limit: int | None) -> None:
        self._share(sender, mode, limit)
        if sender.assigned:
            account.mixed = True  # set aside: not B

    @staticmethod
    def _share(sender: Sender, mode: str, limit: int | None) -> None:
        sender.mode = mode
        sender.cap = limit if mode == CAP else None
        sender.assigned = (limit or 0) if mode == ASSIGNMENT else 0

    def charge_batch(self, items: Sequence[tuple[str, str, int]]) -> list[Charged | Refusal]:
        """Each item on its own, in order, as if one after the other."""
        answers: list[Charged | Refusal] = []
        for key, ref, credits in items:
            try:
                answers.append(self.charge(key, ref, credits))
            except Refusal as refusal:
                answers.append(refusal)
        return answers

    def correct_down(self, ref: str, credits: int) -> None:
        account = self.accounts[ref]
        if credits > account.available:
            raise Refusal("InsufficientCredits", credits - account.available)
        for lot, n in self.take_order(account, credits):
            self._spend(lot, n)
        account.mixed = True

    # -- child accounts ---------------------------------------------------------------------

    def transfer(self, parent: str, child: str, credits: int) -> Moved:
        """Add ``credits`` from ``parent`` to its direct child: drawn from the parent's lots in
        draw-down order, up to what it has available; one new lot in the child, never expiring."""
        giver, receiver = self._pair(parent, child)
        self.active(child)  # the child and every account above it, the parent included
        wanted = min(credits, max(giver.available, 0))
        takes = self.take_order(giver, wanted)
        short = credits - sum(n for _, n in takes)
        if short:
            raise Refusal("InsufficientCredits", short)
        for lot, n in takes:
            self._spend(lot, n)  # a gift of a gift is used, as far as the first giver sees
        lot = Lot(child, TRANSFER, credits, self.now, None, ("transfer",), giver=parent)
        lot.log.append((self.now, credits, GIVEN_IN))
        receiver.lots.append(lot)
        return Moved(credits, takes, lot, giver, receiver)

    def takeable(self, parent: str, child: str) -> int:
        """What ``parent`` may take back from ``child``: what the child holds of its gifts,
        neither spent nor reserved, and not more than the child has available."""
        account = self.accounts[child]
        gifts = sum(max(x.free, 0) for x in account.lots if x.giver == parent and x.remaining)
        return min(gifts, max(account.available, 0))

    def take_back(self, parent: str, child: str, credits: int) -> Moved:
        giver, receiver = self._pair(parent, child)
        self.active(parent)  # a suspended child may still be taken from
        takeable = self.takeable(parent, child)
        if credits > takeable:
            raise Refusal("InsufficientCredits", credits - takeable)
        gifts = sorted((x for x in receiver.lots if x.giver == parent), key=Lot.rank)
        takes, left = [], credits
        for gift in gifts:
            n = min(max(gift.free, 0), left)
            if n:
                takes.append((gift, n))
                left -= n
                self._spend(gift, n, GIVEN_BACK)
        expires_at = self._period_end(parent)
        lot = Lot(parent, TRANSFER, credits, self.now, expires_at, ("back",))
        giver.lots.append(lot)
        return Moved(-credits, takes, lot, giver, receiver)

    def _pair(self, parent: str, child: str) -> tuple[Account, Account]:
        """The parent and its direct child, or why credits may not move between them."""
        if parent not in self.accounts or child not in self.accounts:
            raise Refusal("NotFound")
        if self.root(parent) != self.root(child):
            raise Refusal("OutsideTree")
        if self.accounts[child].parent != parent:
            raise Refusal("Refused")  # itself, its parent, a grandchild, a sibling...
        return self.accounts[parent], self.accounts[child]

    def _period_end(self, ref: str) -> datetime | None:
        """When credits taken back expire: with the current period of the account's reseller
        plan, else of its oldest other plan that is not a free allowance; never without one."""
        subs = [s for s in self.subscriptions if s.account == ref and not s.plan.free]
        subs.sort(key=lambda s: (s.plan.seats == 0, s.serial))
        return subs[0].next_renewal_at if subs else None

    # -- a reseller's books -----------------------------------------------------------------

    def reseller_subscription(self, ref: str) -> Subscription | None:
        """The account's oldest plan with seats: its reseller plan."""
        return next((s for s in self.subscriptions if s.account == ref and s.plan.seats), None)

    def gifts(self, giver: str) -> list[Lot]:
        return [x for a in self.accounts.values() for x in a.lots if x.giver == giver]

    def held_by_children(self, giver: str) -> int:
        """C: what the children hold of what ``giver`` gave them, reserved included."""
        return sum(x.remaining for x in self.gifts(giver))

    def held_before(self, giver: str, at: datetime) -> int:
        """C as it stood at the instant ``at`` (what happened at ``at`` itself not yet)."""
        return sum(n for x in self.gifts(giver) for when, n, _ in x.log if when < at)

    def used_since(self, giver: str, since: datetime) -> int:
        """D: what left the gifts from ``since`` on, other than coming back."""
        moves = [(when, n, why) for x in self.gifts(giver) for when, n, why in x.log]
        return -sum(n for when, n, why in moves if why == USED and when >= since)

    def reseller_figures(self, ref: str) -> ResellerFigures | None:
        sub = self.reseller_subscription(ref)
        if sub is None:
            return None
        start = sub.boundary(sub.next_index - 1)
        return ResellerFigures(
            a=max(sub.plan.credits, self.held_before(ref, start)),
            b=self.accounts[ref].available,
            c=self.held_by_children(ref),
            d=self.used_since(ref, start),
            users_created=self.users_created(ref),
            users_allowed=sub.plan.seats,
            period_start_at=start.isoformat(),
            renews_at=sub.next_renewal_at.isoformat(),
        )

    def keeps_to_its_plan(self, ref: str) -> bool:
        """Whether A = B + C + D must hold exactly: a reseller that never had credits but its
        one plan's, nothing reserved or set aside."""
        account = self.accounts[ref]
        return (
            self.reseller_subscription(ref) is not None
            and not account.mixed
            and account.reserved == 0
            and account.assigned == 0
        )

    # -- reservations -----------------------------------------------------------------------

    def reserve(self, ref: str, credits: int, deadline_at: datetime) -> Reservation:
        if not self.now < deadline_at <= self.now + MAX_HOLD:
            raise Refusal("InvalidInput")
        account = self.active(ref)
        free = max(account.available, 0)
        if credits > free and not account.payg:
            raise Refusal("InsufficientCredits", credits - free)
        takes = self.take_order(account, min(credits, free))
        for lot, n in takes:
            lot.held += n
        account.mixed = True
        reservation = Reservation(ref, credits, deadline_at, takes)
        self.reservations.append(reservation)
        return reservation

    def capture(self, reservation: Reservation, credits: int) -> None:
        """Spend ``credits`` from the holds in order; the rest goes back to its own lots; what
        the holds do not cover is drawn afresh or billed as overage."""
        if reservation.status != HELD:
            raise Refusal("InvalidState")
        account = self.active(reservation.account)
        beyond = max(credits - reservation.held, 0)
        # Spending held credits leaves each lot's free part as it was, so what lies beyond the
        # holds can be drawn (and refused) before anything changes.
        takes = self.take_order(account, min(beyond, max(account.available, 0)))
        short = beyond - sum(n for _, n in takes)
        if short and not account.payg:
            raise Refusal("InsufficientCredits", short)
        left = credits
        for lot, n in reservation.holds:
            spend = min(n, left)
            left -= spend
            self._spend(lot, spend)
            lot.held -= spend
            self._give_back(lot, n - spend, self.now)
        for lot, n in takes:
            self._spend(lot, n)
        account.overage += short
        reservation.status = "captured"

    def release(self, reservation: Reservation, at: datetime, status: str = "released") -> None:
        if reservation.status != HELD:
            raise Refusal("InvalidState")
        for lot, n in reservation.holds:
            self._give_back(lot, n, at)
        reservation.status = status

    def _give_back(self, lot: Lot, n: int, at: datetime) -> None:
        """Return ``n`` held credits to their lot; if it has expired by ``at``, they expire now."""
        lot.held -= n
        if lot.expires_at is not None and lot.expires_at <= at:
            lot.remaining -= n
            self.breakage += n

    # -- time -------------------------------------------------------------------------------

    def advance(self, now: datetime) -> TickStats:
        """Move to ``now`` and book everything due, the earliest first (what ``tick`` does)."""
        self.now = now
        stats = TickStats()
        while (event := self._next_event()) is not None:
            at, _, thing = event
            if isinstance(thing, Reservation):
                self.release(thing, at, "timed_out")
                stats.timeouts += 1
            elif isinstance(thing, Lot):
                self._expire_from_assignments(self.accounts[thing.account], thing.free)
                stats.expired_credits += thing.free
                self.breakage += thing.free
                thing.remaining = thing.held
            else:
                stats.new_lots.append(self._grant_period(thing, thing.next_index))
                thing.next_index += 1
                stats.renewals += 1
        return stats

    @staticmethod
    def _expire_from_assignments(account: Account, expiring: int) -> None:
        """What the unassigned credits cannot cover comes out of the assignments in proportion
        to their sizes: each its floor share, the steps left one each to the largest remainders
        (ties to the older sender)."""
        rest = expiring - min(expiring, account.available)
        holders = [s for s in account.senders.values() if s.assigned > 0]
        whole = sum(s.assigned for s in holders)
        if rest <= 0 or whole == 0:
            return
        shares = [(rest * s.assigned // whole, rest * s.assigned % whole) for s in holders]
        left = rest - sum(floor for floor, _ in shares)
        order = sorted(range(len(holders)), key=lambda i: -shares[i][1])[:left]
        for i, sender in enumerate(holders):
            sender.assigned -= shares[i][0] + (1 if i in order else 0)

    def _next_event(self) -> tuple[datetime, int, Reservation | Lot | Subscription] | None:
        due: list[tuple[datetime, int, Reservation | Lot | Subscription]] = []
        due += [(r.deadline_at, 0, r) for r in self.reservations if r.status == HELD]
        for account in self.accounts.values():
            due += [(x.expires_at, 1, x) for x in account.lots if x.expires_at and x.free > 0]
        due += [(s.next_renewal_at, 2, s) for s in self.subscriptions]
        due = [event for event in due if event[0] <= self.now]
        return min(due, key=lambda e: (e[0], e[1])) if due else None

    def next_event_at(self) -> datetime | None:
        """When something will next happen by itself (for jumps onto exact boundaries)."""
        times = [r.deadline_at for r in self.reservations if r.status == HELD]
        for account in self.accounts.values():
            times += [x.expires_at for x in account.lots if x.expires_at and x.free > 0]
        times += [s.next_renewal_at for s in self.subscriptions]
        later = [when for when in times if when > self.now]
        return min(later) if later else None

    # -- what people see --------------------------------------------------------------------

    def periods(self, ref: str) -> list[tuple[str, int, str, str]]:
        """(plan, credits left, period start, next reset) of each plan, as ``summary`` shows."""
        views = []
        for sub in sorted((s for s in self.subscriptions if s.account == ref), key=lambda s: s.id):
            index = sub.next_index - 1
            origin = ("period", sub.serial, index)
            lot = next((x for x in self.accounts[ref].lots if x.origin == origin), None)
            start, reset = sub.boundary(index).isoformat(), sub.next_renewal_at.isoformat()
            views.append((sub.plan.code, lot.remaining if lot else 0, start, reset))
        return views


# -- the engine's side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineLot:
    id: int
    account: str
    source: str
    amount: int
    remaining: int
    held: int
    expires_at: datetime | None
    created_at: datetime
    subscription_id: int | None
    period_index: int | None


def engine_lots(ctx: pm.Context) -> list[EngineLot]:
    """Every lot in the engine's books, in id order."""
    c = t.lots.c
    query = (
        select(
            c.id,
            t.accounts.c.ref.label("account"),
            c.source,
            c.amount,
            c.remaining,
            c.held,
            c.expires_at,
            c.created_at,
            c.subscription_id,
            c.period_index,
        )
        .join(t.accounts, t.accounts.c.id == c.account_id)
        .order_by(c.id)
    )
    with ctx.store.read() as tx:
        return [EngineLot(**row._asdict()) for row in tx.conn.execute(query)]


def engine_balances(ctx: pm.Context, unit: str) -> dict[str, tuple[int, int, int, int]]:
    """(balance, reserved, available, overage) of every account holding a balance row."""
    b, o = t.balances.c, t.overages.c
    overage = (
        select(o.account_id, func.sum(o.credits).label("credits"))
        .where(o.unit == unit)
        .group_by(o.account_id)
        .subquery()
    )
    query = (
        select(
            t.accounts.c.ref,
            b.balance,
            b.reserved,
            b.balance - b.reserved - b.assigned,
            func.coalesce(overage.c.credits, 0),
        )
        .join(t.accounts, t.accounts.c.id == b.account_id)
        .join(overage, overage.c.account_id == b.account_id, isouter=True)
        .where(b.unit == unit)
    )
    with ctx.store.read() as tx:
        return {ref: (int(a), int(r), int(v), int(x)) for ref, a, r, v, x in tx.conn.execute(query)}


def count_rows(ctx: pm.Context, table: str) -> int:
    """How many rows a table of the engine holds (to show that nothing was written)."""
    with ctx.store.read() as tx:
        count = tx.conn.execute(select(func.count()).select_from(t.metadata.tables[table]))
        return int(count.scalar_one())


def table_counts(ctx: pm.Context) -> dict[str, int]:
    """The row count of every table, read in one transaction."""
    with ctx.store.read() as tx:
        return {
            name: int(tx.conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in t.metadata.tables.items()
        }


def learn_lot_ids(model: Model, lots: Sequence[EngineLot]) -> None:
    """Give the model's lots that have no id yet the ids of the engine's matching lots."""
    known = {lot.id for account in model.accounts.values() for lot in account.lots if lot.id}
    subs = {s.serial: s.id for s in model.subscriptions}
    unknown = [lot for lot in lots if lot.id not in known]
    for account in model.accounts.values():
        for lot in account.lots:
            if lot.id:
                continue
            lot.id = _match(lot, unknown, subs).id


def _match(lot: Lot, candidates: Sequence[EngineLot], subs: dict[int, int]) -> EngineLot:
    def fits(row: EngineLot) -> bool:
        if row.account != lot.account or row.source != lot.source:
            return False
        if lot.origin[0] == "period":
            return (row.subscription_id, row.period_index) == (subs[lot.origin[1]], lot.origin[2])  # type: ignore[index]
        return row.subscription_id is None and row.created_at == lot.created_at

    found = [row for row in candidates if fits(row)]
    assert len(found) == 1, f"no single engine lot for {lot}: {found}"
    return found[0]


def lot_state(lot: Lot | EngineLot) -> tuple[int, int, int, Any]:
    """What must agree between the model and the engine for one lot."""
    return (lot.id, lot.remaining, lot.held, lot.expires_at)
