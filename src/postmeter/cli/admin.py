"""Setting up the database: ``db upgrade`` and ``init``."""

from __future__ import annotations

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from postmeter.cli.output import emit_json, show, table
from postmeter.cli.session import session
from postmeter.cli.views import unit_doc
from postmeter.service.units import list_units

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("init")(init)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the schema up to date (alembic migrations); a no-op when it is current."""
    state = session(ctx)
    state.books(migrate=True)
    if state.json:
        emit_json({"database": redacted(state.url), "schema": "current"})
    else:
        show(f"schema of {redacted(state.url)} is up to date")


def init(ctx: typer.Context) -> None:
    """Create the books (or bring them up to date) and show the units they count in."""
    state = session(ctx)
    books = state.books(migrate=True)
    units = list_units(books)
    if state.json:
        emit_json({"database": redacted(state.url), "units": [unit_doc(u) for u in units]})
        return
    show(
        f"postmeter books ready on {redacted(state.url)}",
        table("units", ["code", "name", "scale"], [(u.code, u.name, u.scale) for u in units]),
    )


def redacted(url: str) -> str:
    """The database URL without its password, fit to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.rsplit("@", 1)[-1]
