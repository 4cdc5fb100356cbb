"""``python -m bench``: the charge benchmarks on SQLite and PostgreSQL (``make bench``).

The library's charges (bench/run.py), then charges over loopback HTTP against ``postmeter
serve`` in a process of its own (bench/http.py), then SMS recipients rated (bench/rating.py).

Writes docs/benchmarks.md and prints a table, then, as its last line on stdout, one JSON object
of named figures. Progress goes to stderr.

    python -m bench                 # the full run: about 3 minutes on 2 cores
    python -m bench --quick         # a smoke run with small sizes; writes no doc unless --doc
    python -m bench --only sqlite   # one database (writes no doc unless --doc)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tests.support.databases import BACKENDS, Databases

from bench import rating, report
from bench.machine import describe
from bench.run import BackendResult, run_backend
from bench.sizes import FULL, QUICK

DEFAULT_DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    sizes = QUICK if args.quick else FULL
    backends = [args.only] if args.only else list(BACKENDS)
    machine = describe()
    results: list[BackendResult] = []
    dbs = Databases()
    try:
        for backend in backends:
            results.append(run_backend(dbs, backend, sizes, _log))
    finally:
        dbs.close()
    numbers = rating.NUMBERS // 10 if args.quick else rating.NUMBERS
    _log(f"rating {numbers:,} SMS recipients beside phonenumbers.parse")
    rated = rating.measure(3.0 if args.quick else 12.0, numbers)
    figs = [f for r in results for f in report.figures(r)]
    figs.append(report.rating_figure(rated, numbers))
    doc: Path | None = args.doc
    if doc is None and not args.quick and not args.only:
        doc = DEFAULT_DOC
    if doc is not None:
        report.write_doc(doc, results, figs, machine, sizes, time.perf_counter() - started)
        _log(f"wrote {doc}")
    for f in figs:
        verdict = "" if f.passed is None else ("pass" if f.passed else "FAIL")
        print(
            f"{report.NAMES[f.backend]:<10} {f.name:<18} {f.rate:>10,.0f}/s"
            f"  vs {f.compared_with} {f.baseline:>9,.0f}/s  ratio {f.ratio:5.2f}"
            f"  {f.target:<14} {verdict}"
        )
    for r in results:
        if r.http is not None:
            c = r.http.charges
            print(
                f"{report.NAMES[r.backend]:<10} {'http latency':<18} p50 {c.p50_ms:.1f} ms,"
                f" p90 {c.p90_ms:.1f} ms, p99 {c.p99_ms:.1f} ms, {c.errors} errors;"
                f" server CPU {c.server_cpu_ms:.2f} ms a charge"
            )
    print(json.dumps(report.summary_json(results, figs)), flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", choices=BACKENDS, help="run on one database only")
    parser.add_argument(
        "--doc",
        type=Path,
        help="where to write the report (default: docs/benchmarks.md after a full run on both"
        " databases; a --quick or --only run writes none unless given)",
    )
    return parser


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
