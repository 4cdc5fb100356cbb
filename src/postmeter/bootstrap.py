"""The composition root: builds the engine, the store and the clock. Nothing is built at import."""

from __future__ import annotations

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
