"""``python -m bench.profile``: where a charge's time goes, on one database.

Two passes over the same workload as ``python -m bench`` (funded accounts, one-credit charges):

1. a census, unprofiled: every statement SQLAlchemy sends (counted, and timed in the driver) and
   every commit, per charge, beside the wall time, so the Python share is known without a
   profiler's distortion;
2. cProfile (wall clock) over the same loop: the functions where the time goes.

    python -m bench.profile --backend sqlite --mode single
    python -m bench.profile --backend postgresql --mode batch --top 40 --pstats /tmp/pg.pstats
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from tests.support.databases import BACKENDS, Databases

import postmeter as pm
from bench import workload
from bench.history import seed_history
from bench.machine import source
from bench.sizes import BATCH_SIZE, FULL
from bench.workload import settle
from postmeter.bootstrap import tune_gc

MODES = ("single", "batch", "baseline")
ACCOUNTS = 20
BATCH_SPREAD = 10


@dataclass
class Census:
    """Statements and commits seen while it was attached."""

    statements: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    commits: list[float] = field(default_factory=list)

    def table(self, charges: int, wall_s: float) -> str:
        per = 1e6 / charges
        lines = [f"{'per charge':<72} {'calls':>8} {'µs':>9}"]
        total_db = 0.0
        for sql, times in sorted(self.statements.items(), key=lambda kv: -sum(kv[1])):
            total_db += sum(times)
            lines.append(f"{sql[:72]:<72} {len(times) / charges:8.3f} {sum(times) * per:9.1f}")
        commit_s = sum(self.commits)
        lines.append(f"{'COMMIT':<72} {len(self.commits) / charges:8.3f} {commit_s * per:9.1f}")
        statements = sum(len(v) for v in self.statements.values())
        rest = wall_s - total_db - commit_s
        lines += [
            "",
            f"wall {wall_s * per:.1f} µs per charge ({charges / wall_s:,.0f} charges/s);"
            f" {statements / charges:.2f} statements per charge through SQLAlchemy",
            f"  in the driver (statements): {total_db * per:8.1f} µs"
            f"  ({100 * total_db / wall_s:4.1f}%)",
            f"  in commits:                 {commit_s * per:8.1f} µs"
            f"  ({100 * commit_s / wall_s:4.1f}%)",
            f"  everything else (Python, and driver calls made around SQLAlchemy):"
            f" {rest * per:.1f} µs ({100 * rest / wall_s:4.1f}%)",
        ]
        return "\n".join(lines)


@contextmanager
def census(engine: Engine) -> Iterator[Census]:
    """Time each cursor execution and each commit of ``engine`` while the block runs."""
    found = Census()
    started: list[float] = []

    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        found.statements[_shape(statement)].append(time.perf_counter() - started.pop())

    dialect = engine.dialect
    do_commit = dialect.do_commit

    def timed_commit(dbapi_connection: Any) -> None:
        t0 = time.perf_counter()
        do_commit(dbapi_connection)
        found.commits.append(time.perf_counter() - t0)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    dialect.do_commit = timed_commit  # type: ignore[method-assign]
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        del dialect.do_commit  # back to the class's method


def _shape(statement: str) -> str:
    """A statement's text without its parameter lists, so repeats group together."""
    flat = " ".join(statement.split())
    return re.sub(r"\((?:[?%s(),:\w\[\] ]|__\[POSTCOMPILE_\w+\])*\)", "(…)", flat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--mode", choices=MODES, default="single")
    parser.add_argument("--count", type=int, help="charges (default 2,000 single, 10,000 batch)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--spread", type=int, default=BATCH_SPREAD, help="accounts per batch (batch mode)"
    )
    parser.add_argument("--pstats", type=Path, help="also save the profile here")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="seed this many journal entries first (bench.history)",
    )
    args = parser.parse_args(argv)
    count = args.count or (10 * BATCH_SIZE if args.mode == "batch" else 2_000)
    dbs = Databases()
    try:
        ctx = pm.connect(dbs.fresh(args.backend))
        try:
            _prepare(ctx, args.history)
            tune_gc()  # as `postmeter serve` and `python -m bench` run
            _profile(ctx, args.mode, count, args.spread, args.top, args.pstats)
        finally:
            ctx.store.dispose()
    finally:
        dbs.close()
    return 0


def _prepare(ctx: pm.Context, history: int) -> None:
    """The benchmark's accounts, funded; behind them ``history`` seeded journal entries."""
    refs = workload.account_refs(ACCOUNTS)
    ids = workload.open_accounts(ctx, refs)
    if history:
        sizes = replace(FULL, accounts=ACCOUNTS, history_entries=history)
        print(f"seeded {seed_history(ctx.store.engine, ids, sizes):,} entries", file=sys.stderr)
    workload.fund_accounts(ctx, refs, datetime.now(UTC))
    settle(ctx.store.engine, seeded=bool(history))


def _profile(
    ctx: pm.Context, mode: str, count: int, spread: int, top: int, save: Path | None
) -> None:
    refs = workload.account_refs(ACCOUNTS)
    keys = workload.Keys("profile")
    run = _runner(ctx, mode, refs, spread, keys)
    run(min(count, 2 * BATCH_SIZE))  # warm-up: caches, connections, the page cache
    with census(ctx.store.engine) as found:
        wall_s = run(count)
    print(f"== {ctx.store.dialect}, {mode}: statement census ({count:,} charges); {source()}")
    print(found.table(count, wall_s))
    profiler = cProfile.Profile()
    profiler.enable()
    profiled_s = run(count)
    profiler.disable()
    print(f"\n== cProfile (wall clock; {profiled_s / wall_s:.1f}x slower under the profiler)")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(order).print_stats(top)
        print(_trim(out.getvalue()))
    if save is not None:
        profiler.dump_stats(save)
        print(f"saved {save}", file=sys.stderr)


def _runner(
    ctx: pm.Context, mode: str, refs: list[str], spread: int, keys: workload.Keys
) -> Callable[[int], float]:
    if mode == "single":
        return lambda n: workload.run_singles(ctx, refs, n, keys)
    if mode == "baseline":
        workload.create_baseline_tables(ctx.store.engine, len(refs))
        return lambda n: workload.run_baseline(ctx.store.engine, n, len(refs))

    def batches(n: int) -> float:
        requests = workload.batch_requests(refs, n // BATCH_SIZE, BATCH_SIZE, spread, keys)
        return workload.run_batches(ctx, requests)

    return batches


def _trim(report: str) -> str:
    """pstats output without its preamble, paths shortened to the package."""
    body = report[report.find("   ncalls") :]
    return re.sub(r"/\S*/(site-packages|src)/", "", body)


if __name__ == "__main__":
    sys.exit(main())
