"""Charges over loopback HTTP: ``postmeter serve`` in a process of its own, 16 clients beside it.

The server is the real one, started as an operator starts it (``postmeter --db URL serve --port
0``: uvicorn with uvloop and httptools, the JSON access log on, durable commits, the engine's
default pool), against a fresh database funded as the library benchmark funds its own. The
clients are threads of this process, each with its own keep-alive ``httpx2.Client``, each sending
``POST /v1/charges`` with its own Idempotency-Keys, one request at a time, accounts in rotation.
After a warm-up, every answer completed inside the measured window counts, and its latency is
the client's: from before the request is written to after the answer is read.

Client and server share the machine's CPUs with the database (2 CPUs on the reference machine):
the CPU each side used in the window is measured and reported beside the rates. For scale, the
same clients then time ``GET /healthz`` (no database, no key) on the same server: what the HTTP
stack alone answers on this machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx2
from sqlalchemy import Engine, text
from tests.support.databases import Databases

import postmeter as pm
from bench import workload
from bench.sizes import Sizes
from postmeter.service.keys import create_key
from postmeter.store.engine import make_engine

Log = Callable[[str], None]

CLIENTS = 16
CHARGE_STATUS = 201
TICK_INTERVAL_S = 3600.0  # the background tick stays out of the measured window
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 30.0
ERROR_SAMPLES = 5
ADDRESS = re.compile(r"postmeter API on (http://\S+/v1)")
# The console script, run by this interpreter: the same code and virtual environment.
LAUNCHER = "import sys; from postmeter.cli.main import main; sys.argv[0] = 'postmeter'; main()"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Load:
    """What the clients saw in one run against the server, and the CPU it took."""

    window_s: float
    requests: int  # expected answers completed inside the measured window
    answered: int  # answers in all, the warm-up included
    errors: int  # unexpected answers and failed requests, the warm-up included
    error_samples: tuple[str, ...]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    per_second: tuple[int, ...]  # answers completed in each whole second of the window
    server_cores: float  # CPU time of the server process over the window, in cores
    client_cores: float  # CPU time of this process (the clients) over the window, in cores
    busy_cores: float  # the whole machine's busy CPU over the window, in cores
    load: float  # 1-minute load average at the end of the window

    @property
    def rate(self) -> float:
        return self.requests / self.window_s

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.per_second), max(self.per_second)) if self.per_second else (0.0, 0.0)

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU per answer, in milliseconds."""
        return self.server_cores * 1000 / self.rate if self.requests else math.nan

    @property
    def client_cpu_ms(self) -> float:
        return self.client_cores * 1000 / self.rate if self.requests else math.nan

    @property
    def other_cores(self) -> float:
        """Busy CPU neither process used: the database server, the kernel, any other work."""
        return max(0.0, self.busy_cores - self.server_cores - self.client_cores)


@dataclass(frozen=True, slots=True)
class HttpResult:
    clients: int
    charges: Load
    healthz: Load  # GET /healthz from the same clients: the HTTP stack alone
    booked: int  # credits the accounts lost over the run: one per 201 if all is well
    transactions: float | None  # database transactions per charge (PostgreSQL's statistics)
    connections: int | None  # database connections the server opened while charged

    @property
    def consistent(self) -> bool:
        """No errors, and the books lost exactly one credit per charge answered."""
        return self.charges.errors == 0 and self.booked == self.charges.answered


def run_http(
    dbs: Databases, backend: str, sizes: Sizes, log: Log, *, py_spy: Path | None = None
) -> HttpResult:
    """Fund a fresh database, serve it from another process, and load it with the clients.

    ``py_spy``: record the server's stacks over the charges' measured window into this file
    (``py-spy record``, flame graph SVG; py-spy must be installed: ``pip install py-spy``).
    """
    url = dbs.fresh(backend)
    refs = workload.account_refs(sizes.accounts)
    ctx = pm.connect(url)
    try:
        workload.open_accounts(ctx, refs)
        workload.fund_accounts(ctx, refs, datetime.now(UTC))
        made = create_key(ctx, pm.OPERATOR, "bench-http", "bench operator", role="operator")
        assert made.secret is not None
        token = made.secret
        workload.settle(ctx.store.engine, seeded=False)
        before = _credits_left(ctx, refs)
    finally:
        ctx.store.dispose()
    stats = _PgStats(url) if backend == "postgresql" else None
    try:
        with _server(url, log) as served:
            log(
                f"{backend}: HTTP: {CLIENTS} clients on {served.base}: {sizes.http_warmup_s:g} s"
                f" warm-up, {sizes.http_seconds} s measured"
            )
            first = stats.sample() if stats else None
            work = _charges(served.base, token, refs)
            spy = _PySpy(served.pid, sizes.http_seconds, py_spy) if py_spy else None
            start = spy.start if spy else None
            charges = _load(served.pid, sizes.http_warmup_s, sizes.http_seconds, work, start)
            if spy:
                spy.wait()
            last = stats.sample() if stats else None
            work = _healthz(served.base)
            healthz = _load(served.pid, sizes.http_warmup_s / 2, sizes.http_healthz_seconds, work)
            if charges.errors or healthz.errors:
                for line in served.errors():
                    log(f"{backend}: server log: {line[:500]}")
    finally:
        if stats:
            stats.close()
    ctx = pm.connect(url, migrate=False)
    try:
        booked = before - _credits_left(ctx, refs)
        pm.verify(ctx)
    finally:
        ctx.store.dispose()
    result = HttpResult(
        clients=CLIENTS,
        charges=charges,
        healthz=healthz,
        booked=booked,
        transactions=(last[0] - first[0]) / charges.answered if first and last else None,
        connections=last[1] - first[1] if first and last else None,
    )
    c = result.charges
    log(
        f"{backend}: HTTP: {c.rate:,.0f}/s, p50 {c.p50_ms:.1f} ms, p99 {c.p99_ms:.1f} ms,"
        f" {c.errors} errors, {booked:,} booked of {c.answered:,} answered; CPU: server"
        f" {c.server_cores:.2f}, clients {c.client_cores:.2f}, machine {c.busy_cores:.2f};"
        f" GET /healthz {healthz.rate:,.0f}/s"
    )
    for sample in c.error_samples + healthz.error_samples:
        log(f"{backend}: HTTP error: {sample}")
    return result


def _credits_left(ctx: pm.Context, refs: Sequence[str]) -> int:
    return sum(pm.summary(ctx, ref, workload.UNIT).balance for ref in refs)


class _PgStats:
    """The database's transactions and sessions so far, from ``pg_stat_database``."""

    QUERY = text(
        "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database"
        " WHERE datname = current_database()"
    )

    def __init__(self, url: str) -> None:
        self._engine: Engine = make_engine(url, pool_size=1)

    def sample(self) -> tuple[int, int]:
        with self._engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            conn.commit()
            row = conn.execute(self.QUERY).one()
            conn.rollback()
        return int(row[0]), int(row[1])

    def close(self) -> None:
        self._engine.dispose()


# -- the server ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Served:
    base: str  # http://127.0.0.1:PORT/v1
    pid: int
    log: Path  # its stderr: the JSON logs

    def errors(self, lines: int = 12) -> list[str]:
        """The last lines of its log other than the access log's; else its last refusals."""
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        other = [line for line in text if '"msg": "request"' not in line]
        return (other or [line for line in text if '"status": 2' not in line])[-lines:]


@contextlib.contextmanager
def _server(url: str, log: Log) -> Iterator[_Served]:
    """``postmeter serve`` on a free loopback port, until the block ends."""
    with tempfile.TemporaryDirectory(prefix="postmeter-bench-http-") as tmp:
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        command = [sys.executable, "-c", LAUNCHER, "--db", url, "serve", "--host", "127.0.0.1"]
        command += ["--port", "0", "--tick-interval", str(TICK_INTERVAL_S)]
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        try:
            base = _wait_for_address(proc, out_path, err_path)
            _wait_until_ready(proc, base, err_path)
            yield _Served(base, proc.pid, err_path)
        finally:
            _stop(proc, log)


def _wait_for_address(proc: subprocess.Popen[bytes], out: Path, err: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = ADDRESS.search(out.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found.group(1)
        if proc.poll() is not None:
            raise RuntimeError(f"postmeter serve exited ({proc.returncode}):\n{_tail(err)}")
        time.sleep(0.05)
    raise RuntimeError(f"postmeter serve printed no address in {START_TIMEOUT_S:g} s")


def _wait_until_ready(proc: subprocess.Popen[bytes], base: str, err: Path) -> None:
    """The address is printed once the port is bound; uvicorn listens a moment later."""
    root = base.removesuffix("/v1")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"postmeter serve exited ({proc.returncode}):\n{_tail(err)}")
        with contextlib.suppress(httpx2.TransportError):
            if httpx2.get(f"{root}/readyz", timeout=5).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"postmeter serve was not ready in {START_TIMEOUT_S:g} s:\n{_tail(err)}")


def _stop(proc: subprocess.Popen[bytes], log: Log) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # as Ctrl-C: uvicorn shuts down cleanly
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log("postmeter serve did not stop on SIGINT: killed")
            proc.kill()
            proc.wait()


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


# -- the clients --------------------------------------------------------------------------------

# What one client sends: (its index, its n-th request) -> (the answer, the status expected).
Send = Callable[[httpx2.Client, int, int], tuple[httpx2.Response, int]]


@dataclass(frozen=True, slots=True)
class _Workload:
    base: str
    headers: dict[str, str]
    send: Send


def _charges(base: str, token: str, refs: Sequence[str]) -> _Workload:
    """One-credit charges, each with its own key, a client's accounts in rotation."""
    keys = [workload.Keys(f"http-{i}") for i in range(CLIENTS)]

    def send(http: httpx2.Client, index: int, n: int) -> tuple[httpx2.Response, int]:
        account = refs[(index + n * CLIENTS) % len(refs)]
        body: dict[str, object] = {"account": account, "unit": workload.UNIT, "credits": 1}
        headers = {"Idempotency-Key": next(keys[index])}
        return http.post("/charges", json=body, headers=headers), CHARGE_STATUS

    return _Workload(base, {"Authorization": f"Bearer {token}"}, send)


def _healthz(base: str) -> _Workload:
    def send(http: httpx2.Client, _index: int, _n: int) -> tuple[httpx2.Response, int]:
        return http.get("/healthz"), 200

    return _Workload(base.removesuffix("/v1"), {}, send)


@dataclass(slots=True)
class _Client:
    """One client's record: (completion time, latency) per expected answer; what went wrong."""

    done: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    answered: int = 0
    errors: int = 0
    samples: list[str] = dataclasses.field(default_factory=list)

    def send(self, http: httpx2.Client, work: _Workload, index: int, n: int) -> bool:
        try:
            response, expected = work.send(http, index, n)
        except httpx2.HTTPError as exc:
            self._error(f"{type(exc).__name__}: {exc}")
            return False
        self.answered += 1
        if response.status_code != expected:
            self._error(f"{response.status_code}: {response.text[:300]}")
            return False
        return True

    def _error(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < ERROR_SAMPLES:
            self.samples.append(what)


class _PySpy:
    """``py-spy record`` of the server over the measured window: started by ``_load``."""

    def __init__(self, pid: int, seconds: int, out: Path) -> None:
        self._command = [str(Path(sys.executable).with_name("py-spy")), "record"]
        self._command += ["--pid", str(pid), "--duration", str(seconds), "--output", str(out)]
        self._command += ["--nonblocking"]
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(self._command, stdout=subprocess.DEVNULL)

    def wait(self) -> None:
        if self._proc is not None:
            self._proc.wait(60)


def _load(
    pid: int,
    warmup_s: float,
    seconds: int,
    work: _Workload,
    at_start: Callable[[], None] | None = None,
) -> Load:
    """Run the clients through the warm-up and the measured window (``at_start`` opens it)."""
    clients = [_Client() for _ in range(CLIENTS)]
    ready = threading.Barrier(CLIENTS + 1)
    window: list[float] = []  # start, end: set by this thread before the clients pass `ready`

    def client(index: int) -> None:
        record = clients[index]
        with httpx2.Client(
            base_url=work.base, headers=work.headers, timeout=REQUEST_TIMEOUT_S
        ) as http:
            record.send(http, work, index, 0)  # outside the clock: the connection is opened
            ready.wait()
            n = 1
            while (started := time.perf_counter()) < window[1]:
                if record.send(http, work, index, n):
                    ended = time.perf_counter()
                    record.done.append((ended, ended - started))
                n += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    window += [now + warmup_s, now + warmup_s + seconds]
    ready.wait()
    time.sleep(max(0.0, window[0] - time.perf_counter()))
    if at_start:
        at_start()
    first = _cpu_sample(pid)
    time.sleep(max(0.0, window[1] - time.perf_counter()))
    last = _cpu_sample(pid)
    load = os.getloadavg()[0]
    for thread in threads:
        thread.join()
    start, end = window
    span = last.wall - first.wall
    latencies = sorted(lat for c in clients for done, lat in c.done if start <= done < end)
    buckets = [0] * seconds
    for c in clients:
        for done, _ in c.done:
            if start <= done < end:
                buckets[min(int(done - start), seconds - 1)] += 1
    return Load(
        window_s=end - start,
        requests=len(latencies),
        answered=sum(c.answered for c in clients),
        errors=sum(c.errors for c in clients),
        error_samples=tuple(s for c in clients for s in c.samples)[:ERROR_SAMPLES],
        p50_ms=_quantile(latencies, 0.50) * 1000,
        p90_ms=_quantile(latencies, 0.90) * 1000,
        p99_ms=_quantile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] if latencies else math.nan) * 1000,
        per_second=tuple(buckets),
        server_cores=(last.server - first.server) / span,
        client_cores=(last.client - first.client) / span,
        busy_cores=(last.busy - first.busy) / span,
        load=load,
    )


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank quantile: the smallest value at or above a ``q`` share of them."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


@dataclass(frozen=True, slots=True)
class _Cpu:
    wall: float
    server: float  # CPU seconds of the server process (all its threads)
    client: float  # CPU seconds of this process
    busy: float  # busy CPU seconds of the whole machine


def _cpu_sample(pid: int) -> _Cpu:
    wall = time.perf_counter()
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    server = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    with open("/proc/stat", encoding="ascii") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait
    busy = (sum(cpu[:8]) - cpu[3] - cpu[4]) / CLOCK_TICKS
    return _Cpu(wall, server, time.process_time(), busy)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.http``: the HTTP benchmark alone, on one database, optionally profiled."""
    import argparse
    import dataclasses as dc

    from tests.support.databases import BACKENDS

    from bench.sizes import FULL

    parser = argparse.ArgumentParser(prog="python -m bench.http", description=main.__doc__)
    parser.add_argument("--backend", choices=BACKENDS, default="postgresql")
    parser.add_argument("--seconds", type=int, default=FULL.http_seconds, help="measured window")
    parser.add_argument("--py-spy", type=Path, help="record the server into this SVG file")
    args = parser.parse_args(argv)
    sizes = dc.replace(FULL, http_seconds=args.seconds)
    dbs = Databases()
    try:
        result = run_http(dbs, args.backend, sizes, _stderr, py_spy=args.py_spy)
    finally:
        dbs.close()
    c = result.charges
    print(
        f"{args.backend}: {c.rate:,.0f} charges/s, p50 {c.p50_ms:.1f} ms, p99 {c.p99_ms:.1f} ms,"
        f" {c.errors} errors; server CPU {c.server_cpu_ms:.2f} ms a charge"
    )
    return 0 if result.consistent else 1


def _stderr(message: str) -> None:
    print(f"[bench.http {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
