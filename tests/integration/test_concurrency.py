"""Eight OS processes charging one account at once: exactly what the balance allows goes through."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import postmeter as pm
from tests.support.workers import charge_worker

WORKERS = 8
ATTEMPTS = 60  # per worker: 480 attempts for 300 credits
SHARED = 10  # keys every worker sends: each must be charged once in all
CREDITS = 300
LOTS = 30
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def test_eight_processes_never_overspend_and_lose_nothing(ctx: pm.Context, db_url: str) -> None:
    pm.create_account(ctx, pm.OPERATOR, "a", "acme", "Acme", "ops@acme.test")
    # Many small lots, drawn one after the other: a charge that read the lots as they were
    # before the charge it queued behind would draw from a lot already used up.
    for i in range(LOTS):
        expiry = FAR + timedelta(days=i)  # the workers run on the real clock
        pm.grant(ctx, pm.OPERATOR, f"g{i}", "acme", "email", CREDITS // LOTS, expires_at=expiry,
                 reason="concurrency test")  # fmt: skip

    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(WORKERS) as pool:
        results = pool.starmap(
            charge_worker, [(db_url, w, ATTEMPTS, SHARED) for w in range(WORKERS)]
        )

    booked = sum(b for b, _ in results)
    refused = sum(r for _, r in results)
    assert booked == CREDITS
    summary = pm.summary(ctx, "acme", "email")
    assert (summary.balance, summary.available) == (0, 0)
    charges = pm.journal(ctx, account="acme", kind="charge", limit=10_000)
    assert len(charges) == CREDITS
    # Every attempt is either booked, refused, or a replay of a shared key booked elsewhere.
    replays = WORKERS * ATTEMPTS - booked - refused
    assert replays >= (WORKERS - 1) * SHARED
    pm.verify(ctx)
