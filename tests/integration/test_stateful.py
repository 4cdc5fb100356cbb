"""The engine against the reference model, driven by random operations and random time jumps.

Each example gets a fresh database (SQLite and PostgreSQL both) and runs random steps: accounts
and child accounts, grants with and without expiry, packages, rolling and monthly plans, charges
and batches of charges, reservations, pay-as-you-go, suspensions, corrections, senders with free
access, caps or assignments, replays of earlier keys and reuse of keys for other requests, and
jumps in time (random, or onto the next boundary) each followed by ``tick``.

Child accounts [white label]: a reseller ``wl`` whose only credits are its plan's (renewing
monthly, with two seats, both taken from the start) adds credits to its children and takes back
what they have neither spent nor reserved, its children charge, and its plan renews across the
jumps; any parent may move credits to a direct child, and other accounts may take a reseller plan
of their own on top of their other credits. Refused as the model says, each changing nothing: a
child beyond the seats (opened or reopened), a transfer to another tree or to what is not a direct
child, more than the giver has available, to a suspended (blocked, closed) child, a take-back
beyond what the child holds.

After every step the balances, reserved and available credits, every lot, every plan's current
period, the overage and every sender agree with the model; ``wl``'s A, B, C, D and plan summary
agree with it and A = B + C + D (the other resellers' in turn, one account a step, the identity
where they hold only their plan's credits; ``verify`` checks it for every such reseller); a tick
that renews ``wl``'s plan leaves C as it was, D = 0 and B = A - C; each transfer shows in its
parent's history; no assignment exceeds what its account holds, nothing is below zero, and
``verify`` is clean.

The normal suite runs the same 25 examples every time (derandomized, so ``make test`` never
flakes); ``POSTMETER_TEST_LONG=1`` runs many more, longer and random ones.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import postmeter as pm
from postmeter.domain.senders import Sharing
from postmeter.service import senders
from tests.support import model as m
from tests.support.databases import BACKENDS, Databases

LONG = os.environ.get("POSTMETER_TEST_LONG") == "1"
START = datetime(2026, 1, 28, 21, 30, tzinfo=UTC)  # near a month's end, before DST starts
OP = pm.OPERATOR
UNIT = "email"
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]
MAX_ACCOUNTS = 6  # the reseller included
MAX_SENDERS = 6
SHARING = [m.FREE_ACCESS, m.CAP, m.ASSIGNMENT]
STATUSES = ["suspended", "blocked", "closed", "active", "active", "active"]
DAY_S = 86_400
RESELLER = "wl"  # holds only its plan's credits: gives, takes back, renews; never sends

PACKAGES = [
    m.Package("small", 100, days=10),
    m.Package("mid", 300, months=1, days=5),
    m.Package("big", 1000, months=6),
]
PRICES = {"small": 1000, "mid": 2900, "big": 9000}  # bigger is never dearer per credit
PLANS = [
    m.Plan("acy", 200, m.ROLLING, days=30),
    m.Plan("weekly-free", 30, m.ROLLING, days=7, free=True),
    m.Plan("monthly", 300, m.MONTHLY, seats=2),  # a reseller plan, on top of other credits
]
WHITE_LABEL = m.Plan("wl", 1000, m.MONTHLY, seats=2)  # the reseller's own

# What an item of a batch is: a new charge, the same key and request as an earlier item of the
# batch, the same key for another request, a replay of a charge before the batch, an unknown
# account, an invalid amount.
BATCH_ITEMS = ["new", "new", "new", "dup", "conflict", "earlier", "ghost", "zero"]

accounts = st.integers(0, MAX_ACCOUNTS - 1)
credits = st.integers(1, 250)
picks = st.integers(0, 10_000)
# How much to move: exactly all there is, one more than that, or any amount.
HOW_MUCH = st.sampled_from(["all", "over", "any", "any"])


@dataclass
class Call:
    """A change that went through, to replay later: the call, and its first answer."""

    key: str
    run: Callable[[], Any]
    answer: Any
    credits: int


class Books(RuleBasedStateMachine):
    def __init__(self, databases: Databases, backend: str) -> None:
        super().__init__()
        self.clock = pm.FixedClock(START)
        self.ctx = pm.connect(databases.fresh(backend), clock=self.clock)
        self.model = m.Model(START)
        self.keys = itertools.count(1)
        self.calls: list[Call] = []
        self.refused: list[pm.ChargeRequest] = []
        self.turns = itertools.count()
        self.senders: list[tuple[str, str]] = []  # (account, name) of each sender made
        self.moves: list[tuple[str, str, int]] = []  # (parent, child, credits) of each transfer

    def teardown(self) -> None:
        self.ctx.store.dispose()

    # -- helpers ----------------------------------------------------------------------------

    def key(self, what: str) -> str:
        return f"{what}-{next(self.keys)}"

    def ref(self, i: int) -> str:
        """An account for the steps that bring in or spend credits: any but the reseller."""
        refs = [ref for ref in self.model.accounts if ref != RESELLER]
        return refs[i % len(refs)]

    def anyone(self, i: int) -> str:
        refs = list(self.model.accounts)
        return refs[i % len(refs)]

    def children(self) -> list[str]:
        """Every account with a parent, the reseller's first."""
        kids = [ref for ref, a in self.model.accounts.items() if a.parent is not None]
        return sorted(kids, key=lambda ref: self.model.accounts[ref].parent != RESELLER)

    def expect(
        self, run: Callable[[], Any], model_change: Callable[[], Any]
    ) -> tuple[Any, Any] | None:
        """Run the engine and the model; both go through (returns both answers) or both refuse."""
        refusal: m.Refusal | None = None
        try:
            expected = model_change()
        except m.Refusal as refused:
            refusal = refused
        if refusal is None:
            return run(), expected
        with pytest.raises(pm.PostmeterError) as caught:
            run()
        assert type(caught.value).__name__ == refusal.kind, caught.value
        if refusal.shortfall is not None:
            assert caught.value.details["shortfall"] == refusal.shortfall
        return None

    def remember(self, key: str, run: Callable[[], Any], answer: Any, credits: int = 0) -> None:
        self.calls.append(Call(key, run, answer, credits))

    # -- set-up -----------------------------------------------------------------------------

    @initialize(
        extend=st.booleans(),
        signup=st.sampled_from([0, 0, 500]),
        signup_days=st.sampled_from([0, 14]),
        tz=st.sampled_from(ZONES),
        plan=st.sampled_from(PLANS),
        package=st.sampled_from(PACKAGES),
        wl_tz=st.sampled_from(ZONES),
        wl_anchor=st.integers(1, 31),
        gift=st.integers(1, 600),
        own=st.integers(0, 300),
        gift2=st.integers(0, 300),
    )
    def catalogue_and_a_first_customer(
        self,
        extend: bool,
        signup: int,
        signup_days: int,
        tz: str,
        plan: m.Plan,
        package: m.Package,
        wl_tz: str,
        wl_anchor: int,
        gift: int,
        own: int,
        gift2: int,
    ) -> None:
        """The operator's catalogue, two customers with credits, and a reseller with as many
        children as its seats allow, that gave them some of its plan (the first has credits of
        its own too), so steps have work to do."""
        # The reseller is opened before any sign-up credits: its only credits are its plan's.
        pm.create_account(self.ctx, OP, "open-wl", RESELLER, "White label", "wl@x.test", wl_tz)
        pm.set_policy(
            self.ctx,
            OP,
            "policy",
            UNIT,
            extend_on_purchase=extend,
            signup_credits=signup,
            signup_days=signup_days,
        )
        self.model = m.Model(START, extend_on_purchase=extend)
        self.model.create_account(RESELLER, None, wl_tz)
        self.model.signup_credits, self.model.signup_days = signup, signup_days or None
        for package in PACKAGES:
            pm.create_package(
                self.ctx,
                OP,
                f"package-{package.code}",
                pm.Package(
                    package.code,
                    package.code,
                    UNIT,
                    package.credits,
                    package.months,
                    package.days,
                    PRICES[package.code],
                    "EUR",
                    True,
                ),
            )
        for each in [*PLANS, WHITE_LABEL]:
            pm.create_plan(
                self.ctx,
                OP,
                f"plan-{each.code}",
                pm.Plan(each.code, each.code, UNIT, each.credits, each.kind, each.days,
                        each.free, each.seats, 0, 0, "EUR"),
            )  # fmt: skip
        self._subscribe(RESELLER, WHITE_LABEL, wl_anchor)
        first = self._create_account(None, tz)
        assert first is not None
        self.subscribe(0, plan, None)
        self.buy(0, package)
        second = self._create_account(first, "UTC")
        assert second is not None
        self.grant(1, 300, adjustment=False, expires_s=None)
        self.buy(1, PACKAGES[0])
        self._reserve(second, 150, 3 * DAY_S)
        shop, shop2 = (self._create_account(RESELLER, wl_tz) for _ in range(WHITE_LABEL.seats))
        assert shop is not None
        assert shop2 is not None
        self._move(RESELLER, shop, gift, back=False)
        if own:
            # Never expiring and younger than the gift: drawn after it, and never taken back.
            self._grant(shop, own, adjustment=True, expires_s=None)
        if gift2:
            self._move(RESELLER, shop2, gift2, back=False)

    # -- accounts ---------------------------------------------------------------------------

    @precondition(lambda self: len(self.model.accounts) < MAX_ACCOUNTS)
    @rule(
        under=st.sampled_from(["nobody", "reseller", "reseller", "anyone", "a child"]),
        i=accounts,
        tz=st.sampled_from(ZONES),
    )
    def create_account(self, under: str, i: int, tz: str) -> None:
        """A customer, a child of the reseller (refused beyond its seats), of anyone, or of a
        child (a grandchild, which its grandparent may neither give to nor take from)."""
        kids = self.children()
        parent = {
            "nobody": None,
            "reseller": RESELLER,
            "anyone": self.anyone(i),
            "a child": kids[i % len(kids)] if kids else self.anyone(i),
        }[under]
        self._create_account(parent, tz)

    def _create_account(self, parent: str | None, tz: str) -> str | None:
        ref = f"acct{len(self.model.accounts)}"
        key = self.key("account")

        def run() -> pm.Account:
            return pm.create_account(self.ctx, OP, key, ref, ref, f"{ref}@x.test", tz, parent)

        outcome = self.expect(run, lambda: self.model.create_account(ref, parent, tz))
        if outcome is None:
            return None
        account = outcome[0]
        assert (account.ref, account.parent, account.status) == (ref, parent, "active")
        self.remember(key, run, account)
        return ref

    @rule(i=accounts, status=st.sampled_from(STATUSES))
    def set_status(self, i: int, status: str) -> None:
        """Any account, the reseller too; reopening a closed child takes a seat again."""
        self._set_status(self.anyone(i), status)

    @precondition(lambda self: self.children())
    @rule(pick=picks, status=st.sampled_from(STATUSES))
    def child_status(self, pick: int, status: str) -> None:
        """A child suspended, blocked, closed or active again: one that is not active receives
        nothing, though its parent may take back from it."""
        self._set_status(self.pick_child(pick), status)

    def _set_status(self, ref: str, status: str) -> None:
        key = self.key("status")

        def run() -> pm.Account:
            return pm.set_status(self.ctx, OP, key, ref, status, "random walk")

        outcome = self.expect(run, lambda: self.model.set_status(ref, status))
        if outcome is not None:
            assert outcome[0].status == status
            self.remember(key, run, outcome[0])

    @rule(i=accounts, on=st.booleans())
    def set_payg(self, i: int, on: bool) -> None:
        ref, key = self.ref(i), self.key("payg")
        price = (250, 1000, "EUR") if on else None

        def run() -> dict[str, Any]:
            return pm.set_payg(self.ctx, OP, key, ref, UNIT, price)

        answer = run()
        self.model.set_payg(ref, on)
        self.remember(key, run, answer)

    # -- credits in -------------------------------------------------------------------------

    @rule(
        i=accounts,
        amount=credits,
        adjustment=st.booleans(),
        expires_s=st.none() | st.integers(1, 60 * DAY_S),
    )
    def grant(self, i: int, amount: int, adjustment: bool, expires_s: int | None) -> None:
        self._grant(self.ref(i), amount, adjustment, expires_s)

    def _grant(self, ref: str, amount: int, adjustment: bool, expires_s: int | None) -> None:
        key = self.key("grant")
        source = m.ADJUSTMENT if adjustment else m.FREE
        expires_at = None if expires_s is None else self.clock.now() + timedelta(seconds=expires_s)

        def run() -> Any:
            return pm.grant(
                self.ctx, OP, key, ref, UNIT, amount, source=source, expires_at=expires_at,
                reason="stateful grant",
            )  # fmt: skip

        lot = self.model.grant(ref, amount, source, expires_at)
        answer = run()
        lot.id = answer.lot_id
        account = self.model.accounts[ref]
        assert (answer.balance, answer.available) == (account.balance, account.available)
        self.remember(key, run, answer)

    @rule(i=accounts, amount=st.integers(1, 200))
    def correct_down(self, i: int, amount: int) -> None:
        ref, key = self.ref(i), self.key("correct")

        def run() -> Any:
            return pm.correct_down(self.ctx, OP, key, ref, UNIT, amount, reason="stateful fix")

        outcome = self.expect(run, lambda: self.model.correct_down(ref, amount))
        if outcome is not None:
            answer, _ = outcome
            account = self.model.accounts[ref]
            assert (answer.credits, answer.balance) == (-amount, account.balance)
            self.remember(key, run, answer)

    @rule(i=accounts, which=st.sampled_from(PACKAGES))
    def buy(self, i: int, which: m.Package) -> None:
        ref, key = self.ref(i), self.key("buy")

        def run() -> pm.Purchase:
            return pm.buy(self.ctx, OP, key, ref, which.code)

        outcome = self.expect(run, lambda: self.model.buy(ref, which))
        if outcome is not None:
            answer, (lot, extended) = outcome
            lot.id = answer.lot_id
            assert lot.expires_at is not None
            assert answer.expires_at == lot.expires_at.isoformat()
            assert answer.extended_lots == [x.id for x in extended]
            self.remember(key, run, answer)

    @rule(i=accounts, which=st.sampled_from(PLANS), anchor=st.none() | st.integers(1, 31))
    def subscribe(self, i: int, which: m.Plan, anchor: int | None) -> None:
        self._subscribe(self.ref(i), which, anchor)

    def _subscribe(self, ref: str, which: m.Plan, anchor: int | None) -> None:
        key = self.key("subscribe")
        anchor = anchor if which.kind == m.MONTHLY else None

        def run() -> pm.Subscription:
            return pm.subscribe(self.ctx, OP, key, ref, which.code, anchor_day=anchor)

        outcome = self.expect(run, lambda: self.model.subscribe(ref, which, anchor))
        if outcome is not None:
            answer, sub = outcome
            sub.id = answer.id
            assert answer.anchor_day == sub.anchor_day
            assert answer.next_renewal_at == sub.next_renewal_at.isoformat()
            self.remember(key, run, answer)

    # -- charges ----------------------------------------------------------------------------

    @rule(i=accounts, amount=credits)
    def charge(self, i: int, amount: int) -> None:
        self._charge(pm.ChargeRequest(self.key("charge"), self.ref(i), UNIT, amount))

    @precondition(lambda self: self.refused)
    @rule(pick=picks)
    def retry_refused_charge(self, pick: int) -> None:
        """A refused charge wrote nothing, so its key may be used again later."""
        self._charge(self.refused.pop(pick % len(self.refused)))

    def _charge(self, request: pm.ChargeRequest) -> None:
        def run() -> pm.Charge:
            return pm.charge(self.ctx, OP, request)

        model_charge = self.model.charge
        outcome = self.expect(
            run,
            lambda: model_charge(request.key, request.account, request.credits, request.sender),
        )
        if outcome is None:
            self.refused.append(request)
            return
        answer, expected = outcome
        check_charge(answer, expected)
        if not expected.replayed:
            self.remember(request.key, run, answer, request.credits)

    # -- senders: free access, caps, assignments ---------------------------------------------

    @precondition(lambda self: len(self.senders) < MAX_SENDERS)
    @rule(i=accounts, mode=st.sampled_from(SHARING), limit=st.integers(0, 400))
    def create_sender(self, i: int, mode: str, limit: int) -> None:
        ref, name = self.ref(i), f"list{len(self.senders) + 1}"
        wanted = None if mode == m.FREE_ACCESS else limit

        def run() -> senders.Sender:
            return senders.create_sender(
                self.ctx, OP, self.key("sender"), ref, name, kind="list", unit=UNIT,
                sharing=Sharing(mode, wanted),
            )  # fmt: skip

        if self.expect(run, lambda: self.model.create_sender(ref, name, mode, wanted)):
            self.senders.append((ref, name))

    @precondition(lambda self: self.senders)
    @rule(pick=picks, mode=st.sampled_from(SHARING), limit=st.integers(0, 400))
    def share(self, pick: int, mode: str, limit: int) -> None:
        ref, name = self.senders[pick % len(self.senders)]
        wanted = None if mode == m.FREE_ACCESS else limit

        def run() -> senders.Sender:
            sharing = Sharing(mode, wanted)
            return senders.set_sharing(self.ctx, OP, self.key("share"), ref, name, sharing)

        self.expect(run, lambda: self.model.set_sharing(ref, name, mode, wanted))

    @precondition(lambda self: self.senders)
    @rule(pick=picks, action=st.sampled_from(sorted(m.SENDER_MOVES)))
    def sender_status(self, pick: int, action: str) -> None:
        ref, name = self.senders[pick % len(self.senders)]
        role = "owner" if action in ("suspend", "resume") else "operator"

        def run() -> senders.Sender:
            return senders.change_status(
                self.ctx, OP, self.key("status"), ref, name, action, role=role, reason="test"
            )

        self.expect(run, lambda: self.model.change_sender(ref, name, action))

    @precondition(lambda self: self.senders)
    @rule(pick=picks, amount=credits)
    def sender_charge(self, pick: int, amount: int) -> None:
        ref, name = self.senders[pick % len(self.senders)]
        request = pm.ChargeRequest(self.key("send"), ref, UNIT, amount, sender=name)
        self._charge(request)

    # -- child accounts: transfers, take-backs, children's sends ------------------------------

    @precondition(lambda self: self.children())
    @rule(pick=picks, amount=st.integers(1, 400), how=HOW_MUCH, astray=picks)
    def transfer(self, pick: int, amount: int, how: str, astray: int) -> None:
        """A parent gives one of its children credits; now and then to another account."""
        self._parent_moves(pick, amount, how, astray, back=False)

    @precondition(lambda self: self.children())
    @rule(pick=picks, amount=st.integers(1, 400), how=HOW_MUCH, astray=picks)
    def take_back(self, pick: int, amount: int, how: str, astray: int) -> None:
        """A parent takes back what a child holds of its gifts; now and then from another."""
        self._parent_moves(pick, amount, how, astray, back=True)

    def _parent_moves(self, pick: int, amount: int, how: str, astray: int, *, back: bool) -> None:
        child = self.pick_child(pick)
        parent = self.model.accounts[child].parent
        assert parent is not None
        child = self.astray(parent, child, astray)
        self._move(parent, child, self.how_much(how, amount, parent, child, back=back), back)

    @precondition(lambda self: self.children())
    @rule(pick=picks, amount=credits)
    def child_charge(self, pick: int, amount: int) -> None:
        """A child sends, spending its own credits first, its gifts last (they never expire)."""
        self._charge(pm.ChargeRequest(self.key("child"), self.pick_child(pick), UNIT, amount))

    @precondition(lambda self: self.children())
    @rule(
        pick=picks,
        amount=st.integers(1, 300),
        everything=st.booleans(),
        then=st.none() | HOW_MUCH,
        back=st.integers(1, 400),
    )
    def child_reserve(
        self, pick: int, amount: int, everything: bool, then: str | None, back: int
    ) -> None:
        """A child holds credits for a later send, maybe all it has: its gifts too, which stay
        in C; then maybe its parent takes back what it may, which is not what is held."""
        child = self.pick_child(pick)
        parent = self.model.accounts[child].parent
        assert parent is not None
        if everything:
            amount = max(self.model.accounts[child].available, 1)
        self._reserve(child, amount, DAY_S)
        if then is not None:
            self._move(parent, child, self.how_much(then, back, parent, child, back=True), True)

    def astray(self, parent: str, child: str, pick: int) -> str:
        """Mostly ``child``; now and then any account, or one of the parent's tree that is not
        its direct child (itself, its parent, a sibling, a grandchild)."""
        if pick % 6 == 0:
            return self.anyone(pick // 6)
        if pick % 6 == 1:
            root = self.model.root(parent)
            kin = [
                ref
                for ref, a in self.model.accounts.items()
                if self.model.root(ref) == root and a.parent != parent
            ]
            return kin[pick // 6 % len(kin)]
        return child

    def pick_child(self, pick: int) -> str:
        """A child account, the reseller's twice as often as the others."""
        kids = self.children()
        ours = [ref for ref in kids if self.model.accounts[ref].parent == RESELLER]
        weighted = ours + kids
        return weighted[pick % len(weighted)]

    def how_much(self, how: str, amount: int, parent: str, child: str, back: bool) -> int:
        """``amount``, or all there is to move (the giver's available, or what the child holds
        of the parent's gifts when taking back), or one more than that."""
        if how == "any" or child not in self.model.accounts:
            return amount
        if back:
            there = self.model.takeable(parent, child)
        else:
            there = max(self.model.accounts[parent].available, 0)
        return max(there, 1) if how == "all" else there + 1

    def _move(self, parent: str, child: str, amount: int, back: bool) -> None:
        key = self.key("back" if back else "transfer")
        move = pm.take_back if back else pm.transfer

        def run() -> pm.Transfer:
            return move(self.ctx, OP, key, parent, child, UNIT, amount, reason="stateful")

        change = self.model.take_back if back else self.model.transfer
        outcome = self.expect(run, lambda: change(parent, child, amount))
        if outcome is None:
            return
        answer, moved = outcome
        moved.lot.id = answer.lot_id
        if any(lot.id == 0 for lot, _ in moved.takes):  # a plan's first lot, in the set-up
            m.learn_lot_ids(self.model, m.engine_lots(self.ctx))
        assert (answer.parent, answer.child, answer.credits) == (parent, child, moved.credits)
        assert answer.drawn == [[lot.id, n] for lot, n in moved.takes]
        assert (answer.parent_balance, answer.parent_available) == (
            moved.parent.balance,
            moved.parent.available,
        )
        assert (answer.child_balance, answer.child_available) == (
            moved.child.balance,
            moved.child.available,
        )
        self.moves.append((parent, child, moved.credits))
        self.remember(key, run, answer)
        history = pm.transfer_history(self.ctx, parent)
        assert [(r.child, r.credits, r.actor, r.reason) for r in history] == [
            (kid, n, OP.name, "stateful") for giver, kid, n in self.moves if giver == parent
        ]

    @rule(
        items=st.lists(
            st.tuples(
                st.sampled_from(BATCH_ITEMS),
                accounts,
                credits,
            ),
            min_size=1,
            max_size=6,
        )
    )  # fmt: skip
    def charge_batch(self, items: list[tuple[str, int, int]]) -> None:
        requests: list[pm.ChargeRequest] = []
        earlier = [c for c in self.calls if isinstance(c.answer, pm.Charge)]
        for kind, i, amount in items:
            request = pm.ChargeRequest(self.key("batch"), self.ref(i), UNIT, amount)
            if kind in ("dup", "conflict") and requests:
                first = requests[i % len(requests)]
                request = first if kind == "dup" else replace(first, credits=first.credits + 1)
            elif kind == "earlier" and earlier:
                first_call = earlier[amount % len(earlier)]
                first_charge: pm.Charge = first_call.answer
                request = pm.ChargeRequest(
                    first_call.key, first_charge.account, UNIT, first_charge.credits
                )
            elif kind == "ghost":
                request = replace(request, account="ghost")
            elif kind == "zero":
                request = replace(request, credits=0)
            requests.append(request)
        expected = self.model.charge_batch([(r.key, r.account, r.credits) for r in requests])
        outcomes = pm.charge_batch(self.ctx, OP, requests)
        assert len(outcomes) == len(requests)
        for request, outcome, want in zip(requests, outcomes, expected, strict=True):
            assert outcome.request == request
            if isinstance(want, m.Refusal):
                assert outcome.charge is None
                assert type(outcome.error).__name__ == want.kind, outcome.error
                if want.shortfall is not None:
                    assert outcome.error is not None
                    assert outcome.error.details["shortfall"] == want.shortfall
                if want.kind in ("InsufficientCredits", "AccountInactive"):
                    self.refused.append(request)
                continue
            assert outcome.error is None, outcome.error
            assert outcome.charge is not None
            check_charge(outcome.charge, want)
            if not want.replayed:
                charge_request = request

                def run(r: pm.ChargeRequest = charge_request) -> pm.Charge:
                    return pm.charge(self.ctx, OP, r)

                self.remember(request.key, run, outcome.charge, request.credits)

    # -- reservations -----------------------------------------------------------------------

    @rule(i=accounts, amount=st.integers(1, 300), deadline_s=st.integers(60, 20 * DAY_S))
    def reserve(self, i: int, amount: int, deadline_s: int) -> None:
        self._reserve(self.ref(i), amount, deadline_s)

    @rule(
        i=accounts,
        amount=st.integers(1, 300),
        cost=st.none() | st.integers(0, 400),
        other=st.none() | credits,
    )
    def scheduled_send(self, i: int, amount: int, cost: int | None, other: int | None) -> None:
        """Reserve, maybe charge something else meanwhile, then capture ``cost`` or cancel."""
        reservation = self._reserve(self.ref(i), amount, DAY_S)
        if reservation is None:
            return
        if other is not None:
            self.charge(i, other)
        if cost is None:
            self._release(reservation)
        else:
            self._capture(reservation, cost)

    def _reserve(self, ref: str, amount: int, deadline_s: int) -> m.Reservation | None:
        key = self.key("reserve")
        deadline_at = self.clock.now() + timedelta(seconds=deadline_s)

        def run() -> pm.Reservation:
            return pm.reserve(self.ctx, OP, key, ref, UNIT, amount, deadline_at)

        outcome = self.expect(run, lambda: self.model.reserve(ref, amount, deadline_at))
        if outcome is None:
            return None
        answer = outcome[0]
        reservation: m.Reservation = outcome[1]
        reservation.id = answer.id
        account = self.model.accounts[ref]
        assert (answer.status, answer.credits) == ("held", amount)
        assert (answer.held, answer.available) == (reservation.held, account.available)
        self.remember(key, run, answer)
        return reservation

    def pick_reservation(self, pick: int, closed: bool) -> m.Reservation:
        """A reservation still held, or (when ``closed``) any one, to capture or release twice."""
        held = [r for r in self.model.reservations if r.status == m.HELD]
        choices = held if held and not closed else self.model.reservations
        return choices[pick % len(choices)]

    @precondition(lambda self: self.model.reservations)
    @rule(pick=picks, amount=st.integers(0, 400), closed=st.sampled_from([False, False, True]))
    def capture(self, pick: int, amount: int, closed: bool) -> None:
        self._capture(self.pick_reservation(pick, closed), amount)

    @precondition(lambda self: self.model.reservations)
    @rule(pick=picks, closed=st.sampled_from([False, False, True]))
    def release(self, pick: int, closed: bool) -> None:
        self._release(self.pick_reservation(pick, closed))

    def _capture(self, reservation: m.Reservation, amount: int) -> None:
        key = self.key("capture")

        def run() -> pm.Reservation:
            return pm.capture(self.ctx, OP, key, reservation.id, amount)

        outcome = self.expect(run, lambda: self.model.capture(reservation, amount))
        if outcome is not None:
            answer, _ = outcome
            account = self.model.accounts[reservation.account]
            assert (answer.status, answer.captured, answer.held) == ("captured", amount, 0)
            assert answer.available == account.available
            self.remember(key, run, answer)

    def _release(self, reservation: m.Reservation) -> None:
        key = self.key("release")

        def run() -> pm.Reservation:
            return pm.release(self.ctx, OP, key, reservation.id)

        now = self.clock.now()
        outcome = self.expect(run, lambda: self.model.release(reservation, now))
        if outcome is not None:
            answer, _ = outcome
            account = self.model.accounts[reservation.account]
            assert (answer.status, answer.held) == ("released", 0)
            assert answer.available == account.available
            self.remember(key, run, answer)

    # -- idempotency ------------------------------------------------------------------------

    @precondition(lambda self: self.calls)
    @rule(pick=picks)
    def replay(self, pick: int) -> None:
        """The same key and request again: the first answer, and nothing written."""
        call = self.calls[pick % len(self.calls)]
        before = (pm_count(self.ctx, "transactions"), pm_count(self.ctx, "entries"))
        again = call.run()
        if isinstance(call.answer, (pm.Charge, pm.Transfer)):
            assert again == replace(call.answer, replayed=True)
        else:
            assert again == call.answer
        assert (pm_count(self.ctx, "transactions"), pm_count(self.ctx, "entries")) == before

    @precondition(lambda self: self.calls)
    @rule(pick=picks, as_grant=st.booleans())
    def reuse_key(self, pick: int, as_grant: bool) -> None:
        """The same key for another request: IdempotencyConflict, and nothing written."""
        call = self.calls[pick % len(self.calls)]
        ref = self.ref(pick)
        before = (pm_count(self.ctx, "transactions"), pm_count(self.ctx, "entries"))

        def conflicting() -> object:
            if as_grant:
                return pm.grant(self.ctx, OP, call.key, ref, UNIT, 1, reason="reused key")
            request = pm.ChargeRequest(call.key, ref, UNIT, call.credits + 1)
            return pm.charge(self.ctx, OP, request)

        with pytest.raises(pm.IdempotencyConflict):
            conflicting()
        assert (pm_count(self.ctx, "transactions"), pm_count(self.ctx, "entries")) == before

    # -- time -------------------------------------------------------------------------------

    @rule(seconds=st.integers(1, 40 * DAY_S))
    def jump(self, seconds: int) -> None:
        self._tick(self.clock.now() + timedelta(seconds=seconds))

    @rule(hours=st.integers(1, 72))
    def wait(self, hours: int) -> None:
        self._tick(self.clock.now() + timedelta(hours=hours))

    @rule(nudge_s=st.sampled_from([-1, 0, 0, 1]))
    def jump_onto_the_next_boundary(self, nudge_s: int) -> None:
        """Land on (or a second either side of) the next expiry, deadline or renewal."""
        when = self.model.next_event_at()
        if when is None:
            when = self.clock.now() + timedelta(days=1)
        self._tick(max(self.clock.now(), when + timedelta(seconds=nudge_s)))

    @rule(nudge_s=st.sampled_from([-1, 0, 0, 1]))
    def jump_to_the_resellers_renewal(self, nudge_s: int) -> None:
        """Land on (or a second either side of) the reseller's next renewal."""
        sub = self.model.reseller_subscription(RESELLER)
        assert sub is not None
        self._tick(max(self.clock.now(), sub.next_renewal_at + timedelta(seconds=nudge_s)))

    def _tick(self, now: datetime) -> None:
        sub = self.model.reseller_subscription(RESELLER)
        assert sub is not None
        renews, c = sub.next_renewal_at <= now, self.model.held_by_children(RESELLER)
        self.clock.set(now)
        report = pm.tick(self.ctx)
        stats = self.model.advance(now)
        assert (report.renewals, report.timeouts) == (stats.renewals, stats.timeouts)
        assert report.expired_credits == stats.expired_credits
        assert pm.tick(self.ctx).events == []  # caught up: a second tick has nothing to do
        if renews:
            # At renewal C stays, D goes to 0, and B = A - C: the old B does not roll over.
            view = pm.reseller_books(self.ctx, RESELLER, UNIT)
            a = max(WHITE_LABEL.credits, c)
            assert (view.a, view.b, view.c, view.d) == (a, a - c, c, 0)

    # -- after every step -------------------------------------------------------------------

    @invariant()
    def books_agree_with_the_model(self) -> None:
        lots = m.engine_lots(self.ctx)
        m.learn_lot_ids(self.model, lots)
        balances = m.engine_balances(self.ctx, UNIT)
        for ref, account in self.model.accounts.items():
            expected = (account.balance, account.reserved, account.available, account.overage)
            assert balances.get(ref, (0, 0, 0, 0)) == expected, ref
            engine = sorted(m.lot_state(x) for x in lots if x.account == ref and x.remaining > 0)
            model = sorted(m.lot_state(x) for x in account.lots if x.remaining > 0)
            assert engine == model, ref
        assert all(0 <= x.held <= x.remaining <= x.amount for x in lots)  # nothing below zero
        assert all(min(b[:3]) >= 0 for b in balances.values())
        turn = next(self.turns)
        self.check_summary(turn % len(self.model.accounts))
        self.check_senders()
        self.check_resellers(turn)
        pm.verify(self.ctx)

    def check_resellers(self, turn: int) -> None:
        """The reseller's books and plan summary as the model has them, and those of the other
        accounts in turn (one a step, when it has a reseller plan); A = B + C + D where the
        reseller holds only its plan's credits (``wl`` always: ``verify`` checks the others)."""
        assert self.model.keeps_to_its_plan(RESELLER)
        others = [ref for ref in self.model.accounts if ref != RESELLER]
        for ref in (RESELLER, others[turn % len(others)]):
            expected = self.model.reseller_figures(ref)
            if expected is None:
                continue
            view = pm.reseller_books(self.ctx, ref, UNIT)
            got = m.ResellerFigures(
                view.a,
                view.b,
                view.c,
                view.d,
                view.users_created,
                view.users_allowed,
                view.period_start_at,
                view.renews_at,
            )
            assert got == expected, ref
            assert min(view.a, view.b, view.c, view.d) >= 0, ref
            if self.model.keeps_to_its_plan(ref):
                assert view.a == view.b + view.c + view.d, ref

    def check_senders(self) -> None:
        """Each sender's sharing, limits and state; no assignment beyond what is held."""
        made = sum(len(account.senders) for account in self.model.accounts.values())
        assert m.count_rows(self.ctx, "senders") == made  # none elsewhere
        for ref, account in self.model.accounts.items():
            assert 0 <= account.assigned <= account.balance - account.reserved, ref
            if not account.senders:
                continue
            start = self.model.cap_period_start(account)
            expected = [
                (s.name, s.mode, s.cap, s.used if s.since == start else 0, s.assigned, s.state)
                for s in account.senders.values()
            ]
            engine = [
                (s.name, s.mode, s.cap, s.cap_used, s.assigned, s.status)
                for s in senders.list_senders(self.ctx, ref)
            ]
            assert engine == expected, ref

    def check_summary(self, i: int) -> None:
        """What people see of one account (in turn, one a step): totals and plan periods."""
        ref = self.ref(i)
        account = self.model.accounts[ref]
        summary = pm.summary(self.ctx, ref, UNIT)
        assert (summary.balance, summary.reserved, summary.available, summary.overage) == (
            account.balance,
            account.reserved,
            account.available,
            account.overage,
        ), ref
        periods = [(p.plan, p.left, p.started_at, p.next_reset_at) for p in summary.periods]
        assert periods == self.model.periods(ref), ref


def check_charge(answer: pm.Charge, expected: m.Charged) -> None:
    assert (answer.drawn, answer.overage) == (expected.drawn, expected.overage)
    assert (answer.balance, answer.available) == (expected.balance, expected.available)
    assert answer.replayed is expected.replayed


def pm_count(ctx: pm.Context, table: str) -> int:
    return m.count_rows(ctx, table)


@pytest.mark.timeout(3 * 3600 if LONG else 600)  # a long run on PostgreSQL takes over 10 minutes
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_engine_keeps_the_books_the_model_keeps(
    databases: Databases, backend_name: str
) -> None:
    class BooksOn(Books):
        def __init__(self) -> None:
            super().__init__(databases, backend_name)

    run_state_machine_as_test(
        BooksOn,
        settings=settings(
            max_examples=300 if LONG else 25,
            stateful_step_count=80 if LONG else 30,
            deadline=None,
            derandomize=not LONG,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
