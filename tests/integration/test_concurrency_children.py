"""Children charging and reserving in their own OS processes while their reseller adds credits
to them and takes credits back in another: nothing goes below zero, a take-back never takes what
a reservation holds (every capture goes through), every credit is accounted for, A = B + C + D,
and ``verify`` is clean."""

from __future__ import annotations

import contextlib
import multiprocessing
from datetime import UTC, datetime, timedelta

import postmeter as pm

OP = pm.OPERATOR
CHILDREN = 4
ATTEMPTS = 60  # per child: a charge of 1, or every third a reservation of 3 captured at 2
MOVES = 80  # the reseller's: a transfer of 5 to one child, a take-back of 4 from another
PLAN = pm.Plan("wl", "White label", "email", 2_000, "days", 30, False, CHILDREN, 0, 0, "EUR")
START = datetime(2026, 4, 1, 9, tzinfo=UTC)


def child_worker(url: str, n: int) -> tuple[int, int, int]:
    """Send from child ``n``; returns (credits spent, refusals, captures that failed)."""
    ctx = pm.connect(url, clock=pm.FixedClock(START), migrate=False)
    spent = refused = failed_captures = 0
    try:
        for i in range(ATTEMPTS):
            ref = f"shop-{n}"
            try:
                if i % 3 == 2:
                    held = pm.reserve(
                        ctx, OP, f"r-{n}-{i}", ref, "email", 3, START + timedelta(days=1)
                    )
                    try:
                        pm.capture(ctx, OP, f"c-{n}-{i}", held.id, 2)
                        spent += 2
                    except pm.PostmeterError:
                        failed_captures += 1
                else:
                    pm.charge(ctx, OP, pm.ChargeRequest(f"s-{n}-{i}", ref, "email", 1))
                    spent += 1
            except pm.InsufficientCredits:
                refused += 1
    finally:
        ctx.store.dispose()
    return spent, refused, failed_captures


def reseller_worker(url: str) -> tuple[int, int]:
    """Add to and take back from the children in turn; returns (added, taken back)."""
    ctx = pm.connect(url, clock=pm.FixedClock(START), migrate=False)
    added = taken = 0
    try:
        for i in range(MOVES):
            with contextlib.suppress(pm.InsufficientCredits):
                added += pm.transfer(
                    ctx, OP, f"t-{i}", "wl", f"shop-{i % CHILDREN}", "email", 5
                ).credits
            with contextlib.suppress(pm.InsufficientCredits):  # the child spent it first
                taken -= pm.take_back(
                    ctx, OP, f"b-{i}", "wl", f"shop-{(i + 1) % CHILDREN}", "email", 4
                ).credits
    finally:
        ctx.store.dispose()
    return added, taken


def run_child(args: tuple[str, int]) -> tuple[int, int, int]:
    return child_worker(*args)


def test_children_send_while_their_reseller_adds_and_takes_back(
    ctx: pm.Context, db_url: str
) -> None:
    pm.create_plan(ctx, OP, "plan", PLAN)
    pm.create_account(ctx, OP, "open", "wl", "White Label", "ops@wl.test")
    pm.subscribe(ctx, OP, "sub", "wl", "wl")
    for n in range(CHILDREN):
        pm.create_account(ctx, OP, f"open-{n}", f"shop-{n}", f"Shop {n}", f"s{n}@x.test",
                          parent="wl")  # fmt: skip
        pm.transfer(ctx, OP, f"first-{n}", "wl", f"shop-{n}", "email", 20)

    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(CHILDREN + 1) as pool:
        moves = pool.apply_async(reseller_worker, (db_url,))
        sends = pool.map(run_child, [(db_url, n) for n in range(CHILDREN)])
        added, taken = moves.get()

    spent = sum(s for s, _, _ in sends)
    assert sum(f for _, _, f in sends) == 0  # a take-back never took what a reservation held
    assert min(added, taken, spent) > 0  # each side did some of its work
    view = pm.reseller_books(ctx, "wl", "email")
    given = CHILDREN * 20 + added - taken
    assert (view.a, view.b, view.c, view.d) == (2_000, 2_000 - given, given - spent, spent)
    balances = [pm.summary(ctx, f"shop-{n}", "email") for n in range(CHILDREN)]
    assert all(b.balance >= 0 and b.reserved == 0 for b in balances)
    assert sum(b.balance for b in balances) == view.c
    history = pm.transfer_history(ctx, "wl", limit=10_000)
    assert sum(r.credits for r in history) == given
    pm.verify(ctx)
