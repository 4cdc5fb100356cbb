"""Options shared by many commands, so each reads and documents the same way everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

Key = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="Idempotency key: the same key again replays the first result. "
        "Generated when omitted; scripts should pass their own.",
    ),
]
UnitCode = Annotated[str, typer.Option("--unit", "-u", help="Unit code, e.g. email or sms.")]
Credits = Annotated[
    str, typer.Option("--credits", "-c", help="Amount in the unit's decimal form, e.g. 12.50.")
]
Reason = Annotated[str, typer.Option("--reason", help="Why: kept in the journal.")]
AccountRef = Annotated[str, typer.Argument(help="Account reference.", show_default=False)]
