"""Throwaway PostgreSQL clusters for the test suite and the benchmarks.

A :class:`PgCluster` runs ``initdb`` into a fresh temporary directory, starts a
``postgres`` server listening only on ``127.0.0.1`` (on a free port) and on a
unix socket inside that directory, and removes everything again on
:meth:`PgCluster.stop`.  Durability settings are left at their safe values
(``fsync=on``, ``synchronous_commit=on``) because the product claims durable
commits and the benchmarks measure them.

When the process runs as root (typical in containers/CI) ``initdb`` refuses to
run, so every server command is executed as the ``postgres`` system user via
``runuser -u postgres --`` and the temporary directory is owned by that user.

Usage::

    with PgCluster() as cluster:
        url = cluster.create_database("postmeter_test")
        engine = sqlalchemy.create_engine(url)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql

__all__ = ["DEFAULT_PG_BIN", "PG_BIN_ENV", "PgCluster", "PgClusterError"]

DEFAULT_PG_BIN = "/usr/lib/postgresql/15/bin"
PG_BIN_ENV = "POSTMETER_PG_BIN"
REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
SERVICE_USER = "postgres"
SUPERUSER = "postgres"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 40
_DB_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PgClusterError(RuntimeError):
    """Raised when the throwaway cluster cannot be created, started or stopped."""


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def _clean_env() -> dict[str, str]:
    """The current environment without libpq/PG* variables that could interfere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


def _resolve_bin_dir() -> Path:
    """Locate the PostgreSQL binaries, or raise a RuntimeError naming what is missing."""
    bin_dir = Path(os.environ.get(PG_BIN_ENV) or DEFAULT_PG_BIN)
    missing = [
        name
        for name in REQUIRED_BINARIES
        if not (bin_dir / name).is_file() or not os.access(bin_dir / name, os.X_OK)
    ]
    if missing:
        raise PgClusterError(
            f"PostgreSQL server binaries missing: {', '.join(missing)} not found "
            f"(or not executable) in {bin_dir} "
            f"(set {PG_BIN_ENV} to override; default {DEFAULT_PG_BIN}). "
            "`make test` installs them with `apt-get install postgresql` "
            "(PostgreSQL 15)."
        )
    return bin_dir


class PgCluster:
    """A private, disposable PostgreSQL cluster on 127.0.0.1.

    Safe to :meth:`stop` more than once; if the process exits without calling
    :meth:`stop`, an ``atexit`` hook stops the server and deletes its files.
    """

    def __init__(self, *, start_timeout: float = START_TIMEOUT_S) -> None:
        self._bin_dir = _resolve_bin_dir()
        self._as_root = os.geteuid() == 0
        self._runuser: str | None = None
        self._service_uid: int | None = None
        self._service_gid: int | None = None
        if self._as_root:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PgClusterError(
                    "running as root requires `runuser` (util-linux) to run initdb/pg_ctl "
                    f"as the {SERVICE_USER!r} user, but it was not found on PATH"
                )
            try:
                pw = pwd.getpwnam(SERVICE_USER)
            except KeyError:
                raise PgClusterError(
                    f"running as root requires the {SERVICE_USER!r} system user "
                    "(created by `apt-get install postgresql`, which `make test` runs)"
                ) from None
            self._runuser = runuser
            self._service_uid = pw.pw_uid
            self._service_gid = pw.pw_gid
        self._start_timeout = start_timeout
        self._base_dir: Path | None = None
        self._port: int | None = None
        self._running = False
        self._atexit_registered = False

    # ------------------------------------------------------------------ paths

    @property
    def base_dir(self) -> Path:
        """The temporary directory holding the data directory, socket and log."""
        if self._base_dir is None:
            raise PgClusterError("cluster has not been started")
        return self._base_dir

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    # -------------------------------------------------------------- addresses

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise PgClusterError("cluster has not been started")
        return self._port

    @property
    def running(self) -> bool:
        return self._running

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the default ``postgres`` database."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for database ``dbname``."""
        _check_db_name(dbname)
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string for ``psycopg.connect``."""
        _check_db_name(dbname)
        return f"host={HOST} port={self.port} user={SUPERUSER} dbname={dbname}"

    # -------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """initdb + start the server; returns once it accepts connections."""
        if self._running:
            return self
        if self._base_dir is not None:
            raise PgClusterError("a PgCluster cannot be restarted after stop(); make a new one")
        if not self._atexit_registered:
            atexit.register(self._atexit_stop)
            self._atexit_registered = True
        try:
            self._make_dirs()
            self._initdb()
            deadline = time.monotonic() + self._start_timeout
            self._start_server(deadline)
            self._wait_ready(deadline)
        except BaseException:
            self._teardown(suppress_errors=True)
            raise
        return self

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``) and delete the directory. Idempotent."""
        self._teardown(suppress_errors=False)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<PgCluster {state} port={self._port} dir={self._base_dir}>"

    # -------------------------------------------------------------- databases

    def create_database(self, name: str) -> str:
        """Create a fresh database ``name`` and return its SQLAlchemy URL."""
        _check_db_name(name)
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` (if it exists), disconnecting any sessions."""
        _check_db_name(name)
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -------------------------------------------------------------- internals

    def _cmd(self, *args: str) -> list[str]:
        if self._runuser is not None:
            return [self._runuser, "-u", SERVICE_USER, "--", *args]
        return list(args)

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._cmd(*args),
            cwd=self.base_dir,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _chown(self, path: Path) -> None:
        if self._service_uid is not None and self._service_gid is not None:
            os.chown(path, self._service_uid, self._service_gid)

    def _make_dirs(self) -> None:
        self._base_dir = Path(tempfile.mkdtemp(prefix="postmeter-pg-", dir="/tmp"))
        self._chown(self._base_dir)
        self.socket_dir.mkdir(mode=0o700)
        self._chown(self.socket_dir)

    def _initdb(self) -> None:
        result = self._run(
            str(self._bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
            timeout=120,
        )
        if result.returncode != 0:
            raise PgClusterError(
                f"initdb failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def _server_options(self, port: int) -> str:
        settings = {
            "listen_addresses": HOST,
            "port": str(port),
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "on",
            "synchronous_commit": "on",
            "max_connections": "200",
            "shared_buffers": "128MB",
        }
        return " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in settings.items())

    def _start_server(self, deadline: float) -> None:
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = _free_port()
            # Fresh log per attempt, so the diagnosis below only sees this attempt.
            self.log_file.unlink(missing_ok=True)
            wait_s = max(1, int(deadline - time.monotonic()))
            result = self._run(
                str(self._bin_dir / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(wait_s),
                "-o",
                self._server_options(port),
                timeout=wait_s + 30,
            )
            if result.returncode == 0:
                self._port = port
                self._running = True
                return
            log = self._log_tail()
            # Another process grabbed the port between probing and binding: retry.
            if "could not bind" in log and attempt < _PORT_ATTEMPTS:
                self._pg_ctl_stop("immediate", suppress_errors=True)
                continue
            # The server may be half-up (e.g. pg_ctl timed out): make sure it is down.
            self._port = port
            self._running = True
            raise PgClusterError(
                f"PostgreSQL failed to start on {HOST}:{port} "
                f"(pg_ctl exit {result.returncode}): {result.stderr.strip()}\n"
                f"--- server log tail ({self.log_file}) ---\n{log}"
            )

    def _wait_ready(self, deadline: float) -> None:
        last_error: Exception | None = None
        while True:
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=5, autocommit=True) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                raise PgClusterError(
                    f"PostgreSQL on {HOST}:{self.port} did not accept connections within "
                    f"{self._start_timeout:.0f}s: {last_error}\n"
                    f"--- server log tail ({self.log_file}) ---\n{self._log_tail()}"
                )
            time.sleep(0.1)

    def _log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def _pg_ctl_stop(self, mode: str, *, suppress_errors: bool) -> bool:
        """Run ``pg_ctl stop -m MODE``; True if the server is down afterwards."""
        if not (self.data_dir / "postmaster.pid").exists():
            return True
        try:
            result = self._run(
                str(self._bin_dir / "pg_ctl"),
                "stop",
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "-t",
                str(STOP_TIMEOUT_S),
                timeout=STOP_TIMEOUT_S + 30,
            )
        except (OSError, subprocess.SubprocessError):
            if suppress_errors:
                return False
            raise
        return result.returncode == 0 or not (self.data_dir / "postmaster.pid").exists()

    def _kill_postmaster(self) -> None:
        """Last resort: SIGKILL the postmaster named in postmaster.pid."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 9)
            for _ in range(100):
                os.kill(pid, 0)  # raises ProcessLookupError once it is gone
                time.sleep(0.05)

    def _teardown(self, *, suppress_errors: bool) -> None:
        base = self._base_dir
        if base is None or not base.exists():
            self._running = False
            self._unregister_atexit()
            return
        if self._running:
            stopped = self._pg_ctl_stop("fast", suppress_errors=True)
            if not stopped:
                stopped = self._pg_ctl_stop("immediate", suppress_errors=True)
            if not stopped:
                self._kill_postmaster()
            self._running = False
        shutil.rmtree(base, ignore_errors=True)
        self._unregister_atexit()
        if base.exists() and not suppress_errors:
            raise PgClusterError(f"could not remove cluster directory {base}")

    def _unregister_atexit(self) -> None:
        if self._atexit_registered:
            atexit.unregister(self._atexit_stop)
            self._atexit_registered = False

    def _atexit_stop(self) -> None:
        with contextlib.suppress(Exception):
            self._teardown(suppress_errors=True)


def _check_db_name(name: str) -> None:
    if not _DB_NAME_RE.fullmatch(name):
        raise ValueError(
            f"invalid database name {name!r}: use letters, digits and underscores "
            "(max 63 chars, not starting with a digit)"
        )
