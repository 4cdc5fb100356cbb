"""Serving the API with uvicorn: the process ``postmeter serve`` runs."""

from __future__ import annotations

import socket

import uvicorn

from postmeter.api import logs
from postmeter.api.app import create_app
from postmeter.bootstrap import tune_gc
from postmeter.service.context import Context


def serve(
    ctx: Context,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    tick_interval_s: float = 5.0,
    log_level: str = "INFO",
    announce: bool = True,
) -> None:
    """Serve until interrupted; ``port`` 0 picks a free port."""
    logs.configure(log_level)
    tune_gc()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening before we announce: a client that reads the address and connects at once is
    # queued in the backlog until uvicorn accepts, never refused while it starts up.
    sock.listen(2048)
    bound = sock.getsockname()[1]
    if announce:
        shown = f"[{host}]" if ":" in host else host
        print(f"postmeter API on http://{shown}:{bound}/v1 (docs at /docs)", flush=True)
    config = uvicorn.Config(
        create_app(ctx, tick_interval_s=tick_interval_s),
        log_level=log_level.lower(),
        log_config=None,  # our JSON logs only: uvicorn's own lines would be plain text
        access_log=False,  # our own JSON access log has the request id and never a secret
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])
