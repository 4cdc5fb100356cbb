"""The benchmark's seeded history (bench/history.py) is books the engine could have written: they
pass ``verify``, and each seeded key is found again under its hash (store/keys.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bench import workload
from bench.history import seed_history, seeded_key
from bench.sizes import QUICK

import postmeter as pm


def test_the_seeded_history_passes_verify_and_its_keys_are_found(ctx: pm.Context) -> None:
    refs = workload.account_refs(QUICK.accounts)
    charged = workload.open_accounts(ctx, refs)
    with ctx.store.engine.connect() as conn:
        first_txn = int(conn.exec_driver_sql("SELECT max(id) FROM transactions").scalar_one()) + 1
        conn.rollback()
    seeded = seed_history(ctx.store.engine, charged, QUICK)
    workload.fund_accounts(ctx, refs, datetime.now(UTC))

    report = pm.verify(ctx)
    assert (seeded, report.entries >= seeded) == (QUICK.history_entries, True)
    # A seeded key is taken: another request under it is refused as a reused key.
    for number in (first_txn, first_txn + seeded - 1):
        with pytest.raises(pm.IdempotencyConflict):
            pm.charge(
                ctx, workload.ACTOR, pm.ChargeRequest(seeded_key(number), refs[0], "email", 1)
            )
    done = pm.charge(ctx, workload.ACTOR, pm.ChargeRequest("new-key", refs[0], "email", 1))
    assert done.replayed is False
