"""What the figures were measured on: the machine, the software, how fast the disk syncs."""

from __future__ import annotations

import hashlib
import os
import platform
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

FSYNC_SAMPLES = 200


@dataclass(frozen=True, slots=True)
class Machine:
    nproc: int
    cpu: str
    memory_gib: float
    system: str
    python: str
    sqlite: str
    sqlalchemy: str
    psycopg: str
    fsync_us: float  # median time of a small write plus fsync in the temp directory
    source: str  # the commit, and a digest of src/ as it was (others may be editing it)

    def rows(self, postgresql: str | None) -> list[tuple[str, str]]:
        return [
            ("CPUs (`nproc`)", str(self.nproc)),
            ("CPU", self.cpu),
            ("memory", f"{self.memory_gib:.1f} GiB"),
            ("system", self.system),
            ("Python", self.python),
            ("SQLite (library)", self.sqlite),
            ("PostgreSQL (server)", postgresql or "not run"),
            ("SQLAlchemy", self.sqlalchemy),
            ("psycopg", self.psycopg),
            ("small write + fsync in the temp dir", f"{self.fsync_us:.0f} µs (median)"),
            ("postmeter source", self.source),
        ]


def describe() -> Machine:
    return Machine(
        nproc=len(os.sched_getaffinity(0)),
        cpu=_cpu_model(),
        memory_gib=_memory_gib(),
        system=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        sqlite=sqlite3.sqlite_version,
        sqlalchemy=version("sqlalchemy"),
        psycopg=version("psycopg"),
        fsync_us=_fsync_us(),
        source=source(),
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _fsync_us() -> float:
    """Why commits cost what they cost: the disk's sync latency, where the databases live."""
    fd, path = tempfile.mkstemp(prefix="postmeter-bench-fsync-")
    try:
        samples = []
        for _ in range(FSYNC_SAMPLES):
            started = time.perf_counter()
            os.write(fd, b"x" * 100)
            os.fsync(fd)
            samples.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        os.unlink(path)
    samples.sort()
    return samples[len(samples) // 2] * 1e6


def source() -> str:
    """The commit checked out and a digest of src/: the figures belong to that code."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for path in sorted((root / "src").rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return f"commit {commit}, src/ digest {digest.hexdigest()[:12]}"
