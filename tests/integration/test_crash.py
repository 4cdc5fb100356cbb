"""A process killed with SIGKILL during a batch charge leaves the books before or after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import postmeter as pm

BATCH = 4_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("delay_ms", [0, 30, 120])
def test_sigkill_mid_batch_leaves_all_or_nothing(
    ctx: pm.Context, db_url: str, delay_ms: int
) -> None:
    pm.create_account(ctx, pm.OPERATOR, "a", "acme", "Acme", "ops@acme.test")
    pm.grant(ctx, pm.OPERATOR, "g", "acme", "email", BATCH, reason="crash test")
    before = pm.summary(ctx, "acme", "email").balance

    with subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", db_url, str(BATCH)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "go"
        time.sleep(delay_ms / 1000)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)

    after = pm.summary(ctx, "acme", "email").balance
    charges = len(pm.journal(ctx, account="acme", kind="charge", limit=10_000))
    assert (after, charges) in ((before, 0), (before - BATCH, BATCH))
    pm.verify(ctx)
