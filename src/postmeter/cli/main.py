"""The ``postmeter`` command: global options, the command groups, and error handling.

Every error a command lets out ends here, in ``_Root.invoke``: one line on stderr, a JSON error
document on stdout with ``--json``, and the exit code of its class (see cli/errors.py).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException  # typer vendors click; its own errors pass
from typer.core import TyperGroup

import postmeter as pm
from postmeter.cli import (
    accounts,
    admin,
    batch,
    books,
    catalogue,
    demo,
    keys,
    rating,
    reports,
    senders,
    serve,
    transfers,
)
from postmeter.cli.errors import failure, report
from postmeter.cli.session import DEFAULT_URL, Session, parse_when
from postmeter.domain.validate import check_text

# Set POSTMETER_DEBUG=1 to see the traceback of an unexpected error instead of one line.
_DEBUG_ENV = "POSTMETER_DEBUG"


class _Root(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except Exception as exc:
            if os.environ.get(_DEBUG_ENV) == "1" and not isinstance(exc, pm.PostmeterError):
                raise
            fail = failure(exc)
            report(fail, as_json=bool(ctx.params.get("json")))
            raise typer.Exit(fail.exit_code) from exc


app = typer.Typer(
    cls=_Root,
    name="postmeter",
    help="Prepaid credits ledger for e-mail and SMS sending platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="POSTMETER_DATABASE_URL",
            help="Database URL: sqlite:///file.db or postgresql://user@host/db.",
        ),
    ] = DEFAULT_URL,
    json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            envvar="POSTMETER_NOW",
            help="Fix the clock at this ISO 8601 instant (e.g. 2026-04-09T10:00:00Z).",
        ),
    ] = None,
    actor: Annotated[
        str, typer.Option("--actor", help="Who makes the changes, kept in the journal.")
    ] = "operator",
) -> None:
    # Set first, so an error in the options below still knows whether to answer in JSON.
    state = Session(url=db, json=json, now=None, actor=pm.Actor(actor))
    ctx.obj = state
    ctx.call_on_close(state.close)
    check_text(actor, "--actor", 100)
    if now is not None:
        state.now = parse_when(now, "--now")


# In the order --help lists them: setup, catalogue, accounts, the books, reports, the demo.
admin.register(app)
catalogue.register(app)
accounts.register(app)
books.register(app)
transfers.register(app)
batch.register(app)
reports.register(app)
demo.register(app)
serve.register(app)
keys.register(app)
senders.register(app)
rating.register(app)


def main() -> None:
    """The console script's entry point."""
    app(prog_name="postmeter")
