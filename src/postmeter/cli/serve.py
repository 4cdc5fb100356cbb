"""The main job of ``demo --serve`` until the HTTP server exists: tick every few seconds.

With ``--now`` the clock starts at that instant and moves on with the wall clock, so a served
demo still sees time pass. A tick that fails (the database went away) is reported on stderr
and tried again at the next interval; Ctrl-C stops the loop.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import postmeter as pm
from postmeter.cli.admin import redacted
from postmeter.cli.errors import failure
from postmeter.cli.output import emit_json, show
from postmeter.cli.reports import tick_doc, tick_line


def serve(books: pm.Context, url: str, interval_s: float, ticks: int, *, as_json: bool) -> None:
    """Tick every ``interval_s`` seconds, one line per tick, until Ctrl-C (or ``ticks`` ticks)."""
    if as_json:
        emit_json({"running_on": redacted(url), "api": None, "dashboard": None})
    else:
        show(f"postmeter running on {redacted(url)}; API and dashboard: not yet available")
    done = 0
    last = time.monotonic()
    try:
        while ticks == 0 or done < ticks:
            last = _follow_wall_clock(books.clock, last)
            _tick_once(books, as_json=as_json)
            done += 1
            if ticks == 0 or done < ticks:
                time.sleep(interval_s)
    except KeyboardInterrupt:
        if not as_json:
            show("stopped")


def _follow_wall_clock(clock: pm.Clock, last: float) -> float:
    now = time.monotonic()
    if isinstance(clock, pm.FixedClock):
        clock.advance(timedelta(seconds=now - last))
    return now


def _tick_once(books: pm.Context, *, as_json: bool) -> None:
    at = books.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        done = pm.tick(books)
    except Exception as exc:
        fail = failure(exc)
        sys.stderr.write(f"{at} tick failed: {fail.code}: {fail.message}\n")
        return
    if as_json:
        emit_json({"at": at, **tick_doc(done)})
    else:
        show(f"{at} tick: {tick_line(done)}")
