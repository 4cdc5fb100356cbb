"""Rendering: one JSON document on stdout with ``--json``, readable rich tables otherwise.

JSON conventions (docs/cli.md): an amount ``x`` of a unit is ``"x": "12.50"`` (exact decimal in
the unit's scale) beside ``"x_steps": 1250`` (the integer the books store); a price is ``"price":
"49.90"`` beside ``"price_minor": 4990`` and ``"currency"``; instants are ISO 8601 in UTC.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from postmeter.domain.amounts import format_credits
from postmeter.domain.money import exponent
from postmeter.domain.units import Unit

Row = Sequence[object]


def console() -> Console:
    """A console on the current stdout; wide enough for tables when output goes to a pipe."""
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "120"))
    return Console(file=sys.stdout, width=width, highlight=False, soft_wrap=False)


def emit_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def amount(unit: Unit, name: str, steps: int | None) -> dict[str, Any]:
    """``{"credits": "12.50", "credits_steps": 1250}`` for ``amount(sms, "credits", 1250)``."""
    return {name: None if steps is None else unit.format(steps), f"{name}_steps": steps}


def price(minor: int, currency: str) -> dict[str, Any]:
    return {"price": format_price(minor, currency), "price_minor": minor, "currency": currency}


def format_price(minor: int, currency: str) -> str:
    return format_credits(minor, exponent(currency))


def when(iso: str | None, timezone: str | None = None) -> str:
    """An instant for people, ``2026-05-09 09:00 UTC`` or in the account's zone when given
    (``2026-04-12 00:00 CEST``: a renewal day reads as the customer sees it); ``never`` if None.
    """
    if iso is None:
        return "never"
    instant = datetime.fromisoformat(iso)
    if timezone == "":  # a column headed "(UTC)"
        return instant.strftime("%Y-%m-%d %H:%M:%S")
    if timezone is None:
        return instant.strftime("%Y-%m-%d %H:%M UTC")
    return instant.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Row]) -> RenderableType:
    """A table whose cells are shown as plain text (account names may contain ``[brackets]``)."""
    out = Table(show_edge=False, pad_edge=False)
    for name in columns:
        numeric = name.endswith(("credits", "left", "balance", "amount", "remaining", "delta"))
        out.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        out.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    return titled(title, out)


def record(title: str, fields: Iterable[tuple[str, object]]) -> RenderableType:
    """A two-column table of one thing's fields."""
    out = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    out.add_column(style="bold")
    out.add_column(overflow="fold")
    for name, value in fields:
        out.add_row(Text(name), Text("" if value is None else str(value)))
    return titled(title, out)


def titled(title: str | None, body: Table) -> RenderableType:
    """A title on its own line above ``body`` (a table's own title wraps to the table's width)."""
    return body if title is None else Group(Text(title, style="bold"), body)


def show(*renderables: RenderableType) -> None:
    """Print tables, and lines as they are (a line is never wrapped: scripts may grep it)."""
    out = console()
    for item in renderables:
        if isinstance(item, str):
            out.print(Text(item), soft_wrap=True)
        else:
            out.print(item)
