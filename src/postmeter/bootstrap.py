"""The composition root: builds the engine, the store and the clock. Nothing is built at import."""

from __future__ import annotations

import gc

from postmeter.config import Settings
from postmeter.domain.clock import Clock, SystemClock
from postmeter.service.context import Context
from postmeter.store.engine import make_engine
from postmeter.store.migrate import upgrade
from postmeter.store.uow import Store


def connect(url: str | None = None, *, clock: Clock | None = None, migrate: bool = True) -> Context:
    """Open the books at ``url`` (default: settings), bringing the schema up to date."""
    settings = Settings()
    engine = make_engine(url or settings.database_url, pool_size=settings.pool_size)
    if migrate:
        upgrade(engine)
    return Context(store=Store(engine), clock=clock or SystemClock())


# The charge path makes many short-lived, acyclic objects: with Python's default threshold (700)
# a batch of 1,000 charges triggers dozens of collections, some of them full ones over every
# object the process holds. A long-running postmeter process collects less often, and leaves
# what it built at start-up out of every collection.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Set up the garbage collector for a long-running postmeter process (serve, benchmarks)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
