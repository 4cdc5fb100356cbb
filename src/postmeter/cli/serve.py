"""``postmeter serve``: the HTTP API (and tick in the background) until Ctrl-C.

``demo --serve`` runs the same after loading the demo data set, with a fresh operator key to try
the API with. With ``--now`` the clock starts at that instant and moves on with the wall clock.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Annotated

import typer

import postmeter as pm
from postmeter.api.server import serve as serve_api
from postmeter.cli.admin import redacted
from postmeter.cli.output import show
from postmeter.cli.session import session
from postmeter.config import Settings
from postmeter.domain.clock import OffsetClock
from postmeter.service.keys import create_key

Host = Annotated[str | None, typer.Option("--host", help="Address to listen on.")]
Port = Annotated[int | None, typer.Option("--port", help="Port (0: any free port).", min=0)]
TickInterval = Annotated[
    float | None, typer.Option("--tick-interval", help="Seconds between background ticks.")
]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ctx: typer.Context, host: Host = None, port: Port = None, tick_interval: TickInterval = None
) -> None:
    """Serve the HTTP API on /v1 (OpenAPI at /openapi.json, docs at /docs) until Ctrl-C."""
    state = session(ctx)
    run(state.books(migrate=True), state.url, host, port, tick_interval)


def run(
    books: pm.Context,
    url: str,
    host: str | None,
    port: int | None,
    tick_interval: float | None,
    *,
    demo_key: bool = False,
) -> None:
    settings = Settings()
    if isinstance(books.clock, pm.FixedClock):
        books = pm.Context(store=books.store, clock=OffsetClock(books.clock.now()))
    show(f"postmeter running on {redacted(url)}")
    if demo_key:
        made = create_key(
            books, pm.OPERATOR, f"demo:serve:{uuid.uuid4()}", "demo operator", role="operator"
        )
        show(f"operator API key (shown once): {made.secret}")
    show("dashboard: not yet available")
    # uvicorn shuts down cleanly on Ctrl-C, then passes it on: stopping is what was asked.
    with contextlib.suppress(KeyboardInterrupt):
        serve_api(
            books,
            host=host or settings.host,
            port=settings.port if port is None else port,
            tick_interval_s=tick_interval or settings.tick_interval_s,
            log_level=settings.log_level,
        )
    show("stopped")
