"""White label [seed]: a reseller's plan grants A credits a month; it adds credits to its child
accounts or takes back what they have not spent; A = B + C + D at every moment (B available to
assign, C assigned and not yet used, D used by children this period); at renewal C stays, D goes
to 0 and B = A - C. Transferred credits never expire in the child, a child has no plan, a plan's
seats bound its users, and credits never leave their tree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

import postmeter as pm
from postmeter.domain.resellers import ResellerBooks
from postmeter.service import lookup
from postmeter.service.accounts import list_accounts
from postmeter.store import tables as t

OP = pm.OPERATOR
MARCH_12 = datetime(2026, 3, 12, 9, tzinfo=UTC)  # 10:00 in Paris: the reseller subscribes
APRIL_9 = datetime(2026, 4, 9, 8, tzinfo=UTC)
APRIL_12 = datetime(2026, 4, 11, 22, tzinfo=UTC)  # midnight in Paris (CEST): the renewal
MAY_12 = datetime(2026, 5, 11, 22, tzinfo=UTC)
WHITE_LABEL = pm.Plan("wl-1m", "White label 1M", "email", 1_000_000, "monthly", None, False,
                      3, 2, 0, "EUR")  # fmt: skip


@pytest.fixture
def reseller(ctx: pm.Context, clock: pm.FixedClock) -> pm.Context:
    """The seed's reseller on March 12th: its plan renews on the 12th; two children."""
    clock.set(MARCH_12)
    pm.create_plan(ctx, OP, "plan", WHITE_LABEL)
    pm.create_account(ctx, OP, "open", "wl", "White Label Ltd", "ops@wl.test", "Europe/Paris")
    pm.subscribe(ctx, OP, "sub", "wl", "wl-1m", anchor_day=12)
    for n in (1, 2):
        pm.create_account(ctx, OP, f"open-{n}", f"shop-{n}", f"Shop {n}", f"owner@shop{n}.test",
                          "Europe/Paris", "wl")  # fmt: skip
    return ctx


def books(ctx: pm.Context) -> ResellerBooks:
    """The reseller's A, B, C, D; ResellerBooks refuses figures that do not add up."""
    view = pm.reseller_books(ctx, "wl", "email")
    return ResellerBooks(view.a, view.b, view.c, view.d)


def charge(ctx: pm.Context, key: str, account: str, credits: int) -> pm.Charge:
    return pm.charge(ctx, OP, pm.ChargeRequest(key, account, "email", credits))


def snapshot(ctx: pm.Context) -> tuple[list[Any], dict[str, int]]:
    """The whole journal and every table's row count: what a refusal must leave as it was."""
    with ctx.store.read() as tx:
        counts = {
            name: int(tx.conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in t.metadata.tables.items()
        }
    return pm.journal(ctx, limit=10_000), counts


def test_the_seed_to_the_credit_with_a_b_c_d_adding_up_after_every_step(
    reseller: pm.Context, clock: pm.FixedClock
) -> None:
    steps: list[tuple[Callable[[], object], ResellerBooks]] = [
        (lambda: None, ResellerBooks(1_000_000, 1_000_000, 0, 0)),
        (lambda: pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000),
         ResellerBooks(1_000_000, 700_000, 300_000, 0)),
        (lambda: pm.transfer(reseller, OP, "t-2", "wl", "shop-2", "email", 200_000),
         ResellerBooks(1_000_000, 500_000, 500_000, 0)),
        (lambda: charge(reseller, "send-1", "shop-1", 150_000),
         ResellerBooks(1_000_000, 500_000, 350_000, 150_000)),
        (lambda: charge(reseller, "send-2", "shop-2", 50_000),
         ResellerBooks(1_000_000, 500_000, 300_000, 200_000)),
    ]  # fmt: skip
    for step, expected in steps:
        step()
        assert books(reseller) == expected
        pm.verify(reseller)

    clock.set(APRIL_9)
    assert books(reseller) == ResellerBooks(a=1_000_000, b=500_000, c=300_000, d=200_000)
    view = pm.reseller_books(reseller, "wl", "email")
    assert (view.plan, view.users_created, view.users_allowed, view.dedicated_ips) == (
        "White label 1M",
        2,
        3,
        2,
    )
    assert view.renews_at == APRIL_12.isoformat()  # the 12th, midnight in Paris

    clock.set(APRIL_12)
    report = pm.tick(reseller)
    assert (report.renewals, report.expired_credits) == (1, 500_000)  # the old B does not roll
    assert books(reseller) == ResellerBooks(a=1_000_000, b=700_000, c=300_000, d=0)
    grants = pm.journal(reseller, account="wl", kind="grant")
    assert [g.delta for g in grants] == [1_000_000, 700_000]  # the renewal grants A - C
    view = pm.reseller_books(reseller, "wl", "email")
    assert (view.period_start_at, view.renews_at) == (APRIL_12.isoformat(), MAY_12.isoformat())
    pm.verify(reseller)


def test_d_counts_only_given_credits_and_a_reservation_stays_in_c(
    reseller: pm.Context, clock: pm.FixedClock
) -> None:
    # A child's own package is its own: spending it is not D. (D as "everything the children
    # spent this period" would say 600, then 1,400 here, and A = B + C + D would fail.)
    pm.create_package(reseller, OP, "pkg", pm.Package("p1k", "1k", "email", 1_000, 6, 0, 900,
                                                      "EUR", True))  # fmt: skip
    package = pm.buy(reseller, OP, "buy", "shop-1", "p1k")
    given = pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 5_000)
    charge(reseller, "send-1", "shop-1", 600)
    assert books(reseller) == ResellerBooks(1_000_000, 995_000, 5_000, 0)
    clock.set(APRIL_12)
    pm.tick(reseller)
    assert books(reseller) == ResellerBooks(1_000_000, 995_000, 5_000, 0)
    spent = charge(reseller, "send-2", "shop-1", 1_400)
    # The package first: it expires, given credits never do.
    assert spent.drawn == [[package.lot_id, 400], [given.lot_id, 1_000]]
    assert books(reseller) == ResellerBooks(1_000_000, 995_000, 4_000, 1_000)

    held = pm.reserve(reseller, OP, "hold", "shop-1", "email", 600, MAY_12)
    assert books(reseller) == ResellerBooks(1_000_000, 995_000, 4_000, 1_000)  # still C
    with pytest.raises(pm.InsufficientCredits) as refused:
        pm.take_back(reseller, OP, "back", "wl", "shop-1", "email", 3_401)
    assert refused.value.details["shortfall"] == 1  # 4,000 held, 600 of them reserved
    pm.capture(reseller, OP, "cap", held.id, 500)
    assert books(reseller) == ResellerBooks(1_000_000, 995_000, 3_500, 1_500)
    pm.take_back(reseller, OP, "back", "wl", "shop-1", "email", 3_500)
    assert books(reseller) == ResellerBooks(1_000_000, 998_500, 0, 1_500)
    pm.verify(reseller)


def test_a_late_renewal_takes_c_as_it_stood_when_the_period_began(
    reseller: pm.Context, clock: pm.FixedClock
) -> None:
    pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000)
    clock.set(APRIL_12 + timedelta(hours=20))  # tick was down; the child kept sending
    charge(reseller, "late-send", "shop-1", 50_000)
    pm.tick(reseller)
    grants = pm.journal(reseller, account="wl", kind="grant")
    assert grants[-1].delta == 700_000  # not 750,000: C was 300,000 at midnight
    assert books(reseller) == ResellerBooks(1_000_000, 700_000, 250_000, 50_000)
    pm.verify(reseller)


def test_a_period_grants_nothing_new_when_children_hold_more_than_the_plan(
    reseller: pm.Context, clock: pm.FixedClock
) -> None:
    pm.grant(reseller, OP, "bonus", "wl", "email", 200_000, source="adjustment",
             reason="launch bonus")  # fmt: skip
    pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 1_200_000)
    clock.set(APRIL_12)
    pm.tick(reseller)
    assert len(pm.journal(reseller, account="wl", kind="grant")) == 2  # the bonus and March
    assert books(reseller) == ResellerBooks(a=1_200_000, b=0, c=1_200_000, d=0)
    charge(reseller, "send", "shop-1", 400_000)
    clock.set(MAY_12)
    pm.tick(reseller)
    assert books(reseller) == ResellerBooks(a=1_000_000, b=200_000, c=800_000, d=0)
    pm.verify(reseller)


def test_taken_back_credits_are_b_again_and_expire_with_the_period(
    reseller: pm.Context, clock: pm.FixedClock
) -> None:
    pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000)
    back = pm.take_back(reseller, OP, "back", "wl", "shop-1", "email", 100_000)
    assert (back.credits, back.parent_available, back.child_balance) == (-100_000, 800_000, 200_000)
    lots = {lot.id: lot for lot in pm.summary(reseller, "wl", "email").lots}
    assert (lots[back.lot_id].source, lots[back.lot_id].expires_at) == (
        "transfer",
        APRIL_12.isoformat(),
    )
    assert books(reseller) == ResellerBooks(1_000_000, 800_000, 200_000, 0)
    clock.set(APRIL_12)
    report = pm.tick(reseller)
    assert report.expired_credits == 800_000  # the period's lot and what came back to it
    assert books(reseller) == ResellerBooks(1_000_000, 800_000, 200_000, 0)
    pm.verify(reseller)


def test_a_parent_without_a_plan_gets_credits_back_that_never_expire(ctx: pm.Context) -> None:
    pm.create_account(ctx, OP, "p", "agency", "Agency", "a@agency.test")
    pm.create_account(ctx, OP, "c", "client", "Client", "c@client.test", parent="agency")
    pm.grant(ctx, OP, "g", "agency", "email", 1_000, expires_at=datetime(2026, 5, 1, tzinfo=UTC),
             reason="trial")  # fmt: skip
    pm.transfer(ctx, OP, "t", "agency", "client", "email", 600)
    back = pm.take_back(ctx, OP, "b", "agency", "client", "email", 100)
    lots = {lot.id: lot for lot in pm.summary(ctx, "agency", "email").lots}
    assert lots[back.lot_id].expires_at is None
    with pytest.raises(pm.NotFound, match="no reseller plan"):
        pm.reseller_books(ctx, "agency", "email")
    pm.verify(ctx)


def test_given_credits_never_expire_in_the_child(
    reseller: pm.Context, clock: pm.FixedClock
) -> None:
    done = pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000)
    clock.set(MARCH_12 + timedelta(days=3 * 365))
    pm.tick(reseller)
    [lot] = pm.summary(reseller, "shop-1", "email").lots
    assert (lot.id, lot.source, lot.remaining, lot.expires_at) == (
        done.lot_id,
        "transfer",
        300_000,
        None,
    )
    assert books(reseller) == ResellerBooks(1_000_000, 700_000, 300_000, 0)  # B = A - C, again
    pm.verify(reseller)


def test_the_transfer_history_says_when_to_whom_how_much_and_who(reseller: pm.Context) -> None:
    alice = pm.Actor("alice@wl.test", scope="wl")
    pm.transfer(reseller, alice, "t-1", "wl", "shop-1", "email", 300_000, reason="April budget")
    pm.transfer(reseller, OP, "t-2", "wl", "shop-2", "email", 200_000)
    pm.take_back(reseller, alice, "b-1", "wl", "shop-1", "email", 50_000)
    history = pm.transfer_history(reseller, "wl")
    assert [(r.at, r.child, r.child_email, r.child_name, r.credits, r.actor) for r in history] == [
        (MARCH_12.isoformat(), "shop-1", "owner@shop1.test", "Shop 1", 300_000, "alice@wl.test"),
        (MARCH_12.isoformat(), "shop-2", "owner@shop2.test", "Shop 2", 200_000, "operator"),
        (MARCH_12.isoformat(), "shop-1", "owner@shop1.test", "Shop 1", -50_000, "alice@wl.test"),
    ]
    assert history[0].reason == "April budget"
    only = pm.transfer_history(reseller, "wl", child="shop-1")
    assert [r.credits for r in only] == [300_000, -50_000]
    page = pm.transfer_history(reseller, "wl", after_id=history[0].id, limit=1)
    assert [r.id for r in page] == [history[1].id]
    assert pm.transfer_history(reseller, "wl", unit="sms") == []
    assert pm.transfer_history(reseller, "shop-1") == []  # a child's own, as a parent: none


def test_a_transfer_replays_under_its_key_and_refuses_another_request(
    reseller: pm.Context,
) -> None:
    first = pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000)
    again = pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000)
    assert (again.replayed, again.txn_id, again.lot_id) == (True, first.txn_id, first.lot_id)
    with pytest.raises(pm.IdempotencyConflict):
        pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_001)
    assert books(reseller) == ResellerBooks(1_000_000, 700_000, 300_000, 0)


# -- seats and plans ---------------------------------------------------------------------------


def test_a_plan_allows_as_many_open_children_as_it_has_seats(reseller: pm.Context) -> None:
    pm.create_account(reseller, OP, "open-3", "shop-3", "Shop 3", "s3@x.test", parent="wl")
    before = snapshot(reseller)
    with pytest.raises(pm.SeatsExhausted, match="allows 3 users") as refused:
        pm.create_account(reseller, OP, "open-4", "shop-4", "Shop 4", "s4@x.test", parent="wl")
    assert refused.value.details == {"users_created": 3, "users_allowed": 3}
    assert snapshot(reseller) == before
    pm.set_status(reseller, OP, "close", "shop-3", "closed", "customer left")
    pm.create_account(reseller, OP, "open-4", "shop-4", "Shop 4", "s4@x.test", parent="wl")
    with pytest.raises(pm.SeatsExhausted):
        pm.set_status(reseller, OP, "reopen", "shop-3", "active", "came back")
    view = pm.reseller_books(reseller, "wl", "email")
    assert (view.users_created, view.users_allowed) == (3, 3)


def test_without_a_plan_with_seats_children_are_not_counted(ctx: pm.Context) -> None:
    pm.create_account(ctx, OP, "p", "agency", "Agency", "a@agency.test")
    for n in range(5):
        pm.create_account(ctx, OP, f"c{n}", f"client-{n}", "Client", "c@client.test", "UTC",
                          "agency")  # fmt: skip
    assert len(list_accounts(ctx, "agency")) == 5


def test_a_child_has_no_plan_of_its_own(reseller: pm.Context) -> None:
    before = snapshot(reseller)
    with pytest.raises(pm.Refused, match="a child has no plan") as refused:
        pm.subscribe(reseller, OP, "sub-child", "shop-1", "wl-1m", anchor_day=12)
    assert refused.value.code == "refused"
    assert snapshot(reseller) == before


# -- refusals: each its own error, nothing changed ------------------------------------------


@pytest.fixture
def trees(reseller: pm.Context) -> pm.Context:
    """The reseller's tree with a grandchild under shop-1, and another reseller's tree."""
    pm.create_account(reseller, OP, "open-gc", "shop-1-eu", "Shop 1 EU", "eu@shop1.test",
                      parent="shop-1")  # fmt: skip
    pm.create_account(reseller, OP, "open-o", "other", "Other Reseller", "o@other.test")
    pm.create_account(reseller, OP, "open-oc", "other-shop", "Other Shop", "s@other.test",
                      parent="other")  # fmt: skip
    pm.grant(reseller, OP, "g-other", "other", "email", 1_000, reason="opening")
    pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000)
    pm.transfer(reseller, OP, "t-oc", "other", "other-shop", "email", 500)
    return reseller


REFUSALS: list[tuple[str, type[pm.PostmeterError], str, Any]] = [
    ("another tree", pm.OutsideTree, "outside_tree",
     lambda ctx: pm.transfer(ctx, OP, "k", "wl", "other-shop", "email", 10)),
    ("take back from another tree", pm.OutsideTree, "outside_tree",
     lambda ctx: pm.take_back(ctx, OP, "k", "other", "shop-1", "email", 10)),
    ("more than the child holds", pm.InsufficientCredits, "insufficient_credits",
     lambda ctx: pm.take_back(ctx, OP, "k", "wl", "shop-1", "email", 300_001)),
    ("more than the parent has", pm.InsufficientCredits, "insufficient_credits",
     lambda ctx: pm.transfer(ctx, OP, "k", "wl", "shop-2", "email", 700_001)),
    ("a grandchild", pm.Refused, "refused",
     lambda ctx: pm.transfer(ctx, OP, "k", "wl", "shop-1-eu", "email", 10)),
    ("a sibling", pm.Refused, "refused",
     lambda ctx: pm.transfer(ctx, OP, "k", "shop-1", "shop-2", "email", 10)),
    ("its own parent", pm.Refused, "refused",
     lambda ctx: pm.transfer(ctx, OP, "k", "shop-1", "wl", "email", 10)),
    ("itself", pm.Refused, "refused",
     lambda ctx: pm.transfer(ctx, OP, "k", "wl", "wl", "email", 10)),
    ("a cycle", pm.InvalidInput, "invalid_input",
     lambda ctx: pm.move_account(ctx, OP, "k", "wl", "shop-1-eu")),
    ("an unknown child", pm.NotFound, "not_found",
     lambda ctx: pm.transfer(ctx, OP, "k", "wl", "ghost", "email", 10)),
    ("an unknown unit", pm.NotFound, "not_found",
     lambda ctx: pm.transfer(ctx, OP, "k", "wl", "shop-1", "fax", 10)),
    ("no credits", pm.InvalidAmount, "invalid_amount",
     lambda ctx: pm.transfer(ctx, OP, "k", "wl", "shop-1", "email", 0)),
]  # fmt: skip


@pytest.mark.parametrize(("what", "error", "code", "call"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_bad_transfers_are_refused_with_their_own_error_and_change_nothing(
    trees: pm.Context, what: str, error: type[pm.PostmeterError], code: str, call: Any
) -> None:
    before = snapshot(trees)
    with pytest.raises(error) as refused:
        call(trees)
    assert refused.value.code == code, what
    assert snapshot(trees) == before
    pm.verify(trees)


def test_a_suspended_child_receives_nothing_but_may_be_taken_back_from(trees: pm.Context) -> None:
    pm.set_status(trees, OP, "suspend", "shop-1", "suspended", "unpaid invoice")
    before = snapshot(trees)
    with pytest.raises(pm.AccountInactive) as refused:
        pm.transfer(trees, OP, "k", "wl", "shop-1", "email", 10)
    assert refused.value.details == {"account": "shop-1", "status": "suspended"}
    assert snapshot(trees) == before
    assert pm.take_back(trees, OP, "back", "wl", "shop-1", "email", 300_000).child_balance == 0
    pm.verify(trees)


def test_a_suspended_parent_moves_nothing(trees: pm.Context) -> None:
    pm.set_status(trees, OP, "suspend", "wl", "suspended", "unpaid invoice")
    before = snapshot(trees)
    for move in (pm.transfer, pm.take_back):
        with pytest.raises(pm.AccountInactive, match="'wl' is suspended"):
            move(trees, OP, "k", "wl", "shop-1", "email", 10)
    assert snapshot(trees) == before


def test_the_take_back_refusal_says_what_the_child_holds(trees: pm.Context) -> None:
    with pytest.raises(pm.InsufficientCredits) as refused:
        pm.take_back(trees, OP, "k", "wl", "shop-2", "email", 1)
    assert refused.value.details == {
        "account": "shop-2",
        "unit": "email",
        "shortfall": 1,
        "available": 0,
    }


# -- moving an account -----------------------------------------------------------------------


def test_an_account_moves_inside_its_tree_once_its_given_credits_are_back(
    trees: pm.Context,
) -> None:
    before = snapshot(trees)
    with pytest.raises(pm.InvalidState, match="take them back"):
        pm.move_account(trees, OP, "m", "shop-1", "shop-2")
    with pytest.raises(pm.OutsideTree):
        pm.move_account(trees, OP, "m", "shop-2", "other")
    with pytest.raises(pm.InvalidInput, match="loop"):
        pm.move_account(trees, OP, "m", "shop-1", "shop-1")
    assert snapshot(trees) == before
    moved = pm.move_account(trees, OP, "m", "shop-1-eu", "wl", reason="direct customer now")
    assert moved.parent == "wl"
    pm.take_back(trees, OP, "back", "wl", "shop-1", "email", 300_000)
    assert pm.move_account(trees, OP, "m2", "shop-1", "shop-2").parent == "shop-2"
    assert [a.ref for a in list_accounts(trees, "wl")] == ["shop-2", "shop-1-eu"]
    pm.verify(trees)


def test_moving_an_account_under_a_full_plan_is_refused(trees: pm.Context) -> None:
    pm.create_account(trees, OP, "open-3", "shop-3", "Shop 3", "s3@x.test", parent="wl")
    with pytest.raises(pm.SeatsExhausted):
        pm.move_account(trees, OP, "m", "shop-1-eu", "wl")


# -- verify ----------------------------------------------------------------------------------


def test_verify_finds_a_renewal_that_granted_a_instead_of_a_minus_c(
    reseller: pm.Context, clock: pm.FixedClock
) -> None:
    pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000)
    clock.set(APRIL_12)
    pm.tick(reseller)
    pm.verify(reseller)
    # Rewrite the renewal as a bug would have booked it, lots, journal and balance agreeing.
    extra = 300_000
    e, lots, b = t.entries.c, t.lots.c, t.balances.c
    with reseller.store.write() as tx:
        wl = lookup.account(tx, "wl").id
        last = tx.conn.execute(
            select(func.max(e.seq)).where(e.account_id == wl, e.kind == "grant")
        ).scalar_one()
        lot_id = tx.conn.execute(select(e.lot_id).where(e.seq == last)).scalar_one()
        tx.conn.execute(
            update(t.entries)
            .where(e.seq == last)
            .values(delta=e.delta + extra, balance_after=e.balance_after + extra)
        )
        tx.conn.execute(
            update(t.lots)
            .where(lots.id == lot_id)
            .values(amount=lots.amount + extra, remaining=lots.remaining + extra)
        )
        tx.conn.execute(
            update(t.balances)
            .where(b.account_id == wl, b.unit == "email")
            .values(balance=b.balance + extra)
        )
    with pytest.raises(pm.BooksOutOfBalance, match=r"A = B \+ C \+ D, but 1000000 != 1000000 \+"):
        pm.verify(reseller)


def test_a_reseller_that_sends_itself_is_outside_the_seeds_books_and_verify_knows(
    reseller: pm.Context,
) -> None:
    pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000)
    charge(reseller, "own-send", "wl", 10_000)
    view = pm.reseller_books(reseller, "wl", "email")
    # B is what it can really assign: its own send is neither C nor D.
    assert (view.a, view.b, view.c, view.d) == (1_000_000, 690_000, 300_000, 0)
    pm.verify(reseller)  # the identity is checked only while the credits are the plan's


def test_credits_taken_back_before_a_late_renewal_belong_to_the_new_period(
    reseller: pm.Context, clock: pm.FixedClock
) -> None:
    pm.transfer(reseller, OP, "t-1", "wl", "shop-1", "email", 300_000)
    clock.set(APRIL_12 + timedelta(hours=1))  # the period is over; tick has not renewed yet
    back = pm.take_back(reseller, OP, "back", "wl", "shop-1", "email", 100_000)
    lots = {lot.id: lot for lot in pm.summary(reseller, "wl", "email").lots}
    assert lots[back.lot_id].expires_at == MAY_12.isoformat()
    pm.tick(reseller)
    assert books(reseller) == ResellerBooks(1_000_000, 800_000, 200_000, 0)
    pm.verify(reseller)
