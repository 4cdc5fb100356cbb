"""One backend's benchmark: two databases, the series timed in interleaved rounds, medians kept.

The "fresh" database holds the funded accounts and the baseline's tables; the "history" database
holds the same accounts plus a seeded journal of ``sizes.history_entries`` entries. Each round
runs the baseline, the single charges on the fresh database and the single charges on the history
database, back to back, in an order that rotates from round to round. A ratio is the median of
the rounds' own ratios: drift and other work on the machine (the disk, autovacuum, someone's test
suite) land on both sides of each round's ratio alike, where they would not on a ratio of medians.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from tests.support.databases import Databases

import postmeter as pm
from bench import workload
from bench.history import seed_history
from bench.http import HttpResult, run_http
from bench.sizes import BATCH_SIZE, Sizes
from bench.workload import settle
from postmeter.bootstrap import tune_gc

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Series:
    """Rates (operations per second) of the rounds of one measured series."""

    rates: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.rates), max(self.rates)

    def ratio_to(self, other: Series) -> float:
        """The median of the per-round ratios to ``other``, measured in the same rounds."""
        return statistics.median(a / b for a, b in zip(self.rates, other.rates, strict=True))


@dataclass(slots=True)
class BackendResult:
    backend: str
    server_version: str
    history_entries: int
    series: dict[str, Series] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)  # 1-minute load average after each round
    http: HttpResult | None = None  # charges over HTTP, on a database of their own


def run_backend(dbs: Databases, backend: str, sizes: Sizes, log: Log) -> BackendResult:
    fresh = pm.connect(dbs.fresh(backend))
    history = pm.connect(dbs.fresh(backend))
    try:
        result = _run(fresh, history, backend, sizes, log)
    finally:
        fresh.store.dispose()
        history.store.dispose()
    result.http = run_http(dbs, backend, sizes, log)
    return result


def _run(
    fresh: pm.Context, history: pm.Context, backend: str, sizes: Sizes, log: Log
) -> BackendResult:
    refs = workload.account_refs(sizes.accounts)
    seeded = _prepare(fresh, history, refs, sizes, lambda m: log(f"{backend}: {m}"))
    result = BackendResult(backend, _server_version(fresh.store.engine), seeded)
    # Measure the process as `postmeter serve` runs it (its collector tuned the same way).
    tune_gc()
    keys = workload.Keys(f"bench-{backend}")
    series: dict[str, Callable[[int], float]] = {
        "baseline": lambda n: workload.run_baseline(fresh.store.engine, n, sizes.accounts),
        "single": lambda n: workload.run_singles(fresh, refs, n, keys),
        "history": lambda n: workload.run_singles(history, refs, n, keys),
    }
    _rounds(series, sizes.warmup, sizes.singles_per_round, sizes.rounds, result, log)
    batches: dict[str, Callable[[int], float]] = {
        "batch": _batch_series(fresh, refs, sizes.batch_accounts, keys),
        "batch_one_account": _batch_series(fresh, refs, 1, keys),
        "batch_history": _batch_series(history, refs, sizes.batch_accounts, keys),
    }
    _rounds(
        batches, BATCH_SIZE, sizes.batches_per_round * BATCH_SIZE, sizes.batch_rounds, result, log
    )
    return result


def _prepare(
    fresh: pm.Context, history: pm.Context, refs: list[str], sizes: Sizes, log: Log
) -> int:
    """Open and fund the accounts in both databases, seed the history; returns its entries."""
    workload.open_accounts(fresh, refs)
    charged_ids = workload.open_accounts(history, refs)
    log(f"seeding {sizes.history_entries:,} journal entries")
    seeded = seed_history(history.store.engine, charged_ids, sizes)
    now = datetime.now(UTC)
    workload.fund_accounts(fresh, refs, now)
    workload.fund_accounts(history, refs, now)
    workload.create_baseline_tables(fresh.store.engine, sizes.accounts)
    settle(fresh.store.engine, seeded=False)
    settle(history.store.engine, seeded=True)
    return seeded


def _rounds(
    series: dict[str, Callable[[int], float]],
    warmup: int,
    per_round: int,
    rounds: int,
    result: BackendResult,
    log: Log,
) -> None:
    """Warm each series up, then time ``rounds`` rounds of all of them, the order rotating."""
    for run in series.values():
        run(warmup)
    rates: dict[str, list[float]] = {name: [] for name in series}
    order = list(series)
    for r in range(rounds):
        for name in order[r % len(order) :] + order[: r % len(order)]:
            rates[name].append(per_round / series[name](per_round))
        result.load.append(os.getloadavg()[0])
        log(f"{result.backend}: round {r + 1}/{rounds}: {_rates_line(rates, result.load[-1])}")
    result.series.update({name: Series(values) for name, values in rates.items()})


def _batch_series(
    ctx: pm.Context, refs: list[str], spread: int, keys: workload.Keys
) -> Callable[[int], float]:
    """Time ``n`` charges as calls of BATCH_SIZE, each over ``spread`` accounts."""

    def run(n: int) -> float:
        requests = workload.batch_requests(refs, n // BATCH_SIZE, BATCH_SIZE, spread, keys)
        return workload.run_batches(ctx, requests)

    return run


def _rates_line(rates: dict[str, list[float]], load: float) -> str:
    line = ", ".join(f"{name} {values[-1]:,.0f}/s" for name, values in rates.items())
    return f"{line} (load {load:.1f})"


def _server_version(engine: Engine) -> str:
    query = (
        "SHOW server_version" if engine.dialect.name == "postgresql" else "SELECT sqlite_version()"
    )
    with engine.connect() as conn:
        value = str(conn.execute(text(query)).scalar_one())
        conn.rollback()
    return value
