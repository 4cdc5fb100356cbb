"""Code that runs in other OS processes during tests: charging workers and a batch to be killed."""

from __future__ import annotations

import sys

import postmeter as pm


def charge_worker(url: str, worker: int, attempts: int, shared_keys: int) -> tuple[int, int]:
    """Charge 1 credit ``attempts`` times; the first ``shared_keys`` keys are the same in every
    worker (racing replays). Returns (charges booked by this worker, refusals)."""
    ctx = pm.connect(url, migrate=False)
    booked = refused = 0
    try:
        for i in range(attempts):
            key = f"shared-{i}" if i < shared_keys else f"w{worker}-{i}"
            try:
                result = pm.charge(ctx, pm.OPERATOR, pm.ChargeRequest(key, "acme", "email", 1))
            except pm.InsufficientCredits:
                refused += 1
            else:
                booked += 0 if result.replayed else 1
    finally:
        ctx.store.dispose()
    return booked, refused


def big_batch(url: str, size: int) -> None:
    """Charge ``size`` credits in one batch of single-credit charges, announcing the start."""
    ctx = pm.connect(url, migrate=False)
    requests = [pm.ChargeRequest(f"batch-{i}", "acme", "email", 1) for i in range(size)]
    print("go", flush=True)
    pm.charge_batch(ctx, pm.OPERATOR, requests)
    print("done", flush=True)


if __name__ == "__main__":
    big_batch(sys.argv[1], int(sys.argv[2]))
