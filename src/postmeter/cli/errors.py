"""How a failed command ends: one exit code per error class and one readable line on stderr.

The table (docs/cli.md keeps it for users)::

    0  ok
    1  internal_error      a bug: anything postmeter did not raise on purpose
    2  usage               Typer's own: unknown option, missing argument, bad integer
    3  invalid_input       InvalidInput, InvalidAmount (bad amount, date, name, URL...);
       invalid_config      a POSTMETER_* setting (or the POSTMETER_CONFIG file) is invalid
    4  not_found           NotFound
    5  conflict            Conflict, AlreadyExists, IdempotencyConflict, InvalidState
    6  refused             Refused and its kinds (insufficient credits, inactive, cap, ...)
    7  books_out_of_balance  BooksOutOfBalance (``verify``)
    8  database_error      the database cannot be reached, or its schema is missing
    9  batch_failed        ``charge-batch``: some items failed (the others were booked)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from postmeter.domain.errors import (
    BooksOutOfBalance,
    Conflict,
    InvalidInput,
    NotFound,
    PostmeterError,
    Refused,
)

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_REFUSED = 6
EXIT_OUT_OF_BALANCE = 7
EXIT_DATABASE = 8
EXIT_BATCH_FAILED = 9

# Most specific first is not needed: the classes below do not inherit from each other.
_EXIT_BY_CLASS: tuple[tuple[type[PostmeterError], int], ...] = (
    (InvalidInput, EXIT_INVALID),
    (NotFound, EXIT_NOT_FOUND),
    (Conflict, EXIT_CONFLICT),
    (Refused, EXIT_REFUSED),
    (BooksOutOfBalance, EXIT_OUT_OF_BALANCE),
)

# Messages that mean "this database has no postmeter schema (yet)", on SQLite and PostgreSQL.
_NO_SCHEMA = ("no such table", "undefinedtable", "does not exist")


class DatabaseMissing(Exception):
    """The database the options name is not there (a SQLite file that does not exist)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed command, ready to print: stable code, one-line message, JSON-safe details."""

    exit_code: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def exit_code_for(exc: PostmeterError) -> int:
    for cls, code in _EXIT_BY_CLASS:
        if isinstance(exc, cls):
            return code
    return EXIT_INTERNAL


def failure(exc: BaseException) -> Failure:
    """Classify any exception a command let out."""
    if isinstance(exc, PostmeterError):
        return Failure(exit_code_for(exc), exc.code, one_line(exc.message), dict(exc.details))
    if isinstance(exc, SQLAlchemyError):
        return _database_failure(exc)
    if isinstance(exc, ValidationError):
        return _config_failure(exc)
    if isinstance(exc, DatabaseMissing):
        return Failure(EXIT_DATABASE, "database_error", one_line(str(exc)))
    return Failure(EXIT_INTERNAL, "internal_error", one_line(f"{type(exc).__name__}: {exc}"))


def _database_failure(exc: SQLAlchemyError) -> Failure:
    cause = getattr(exc, "orig", None) or exc
    text = one_line(str(cause))
    lowered = f"{type(cause).__name__} {text}".lower()
    if any(marker in lowered for marker in _NO_SCHEMA):
        text += " (is the schema there? run `postmeter db upgrade`)"
    return Failure(EXIT_DATABASE, "database_error", text)


def _config_failure(exc: ValidationError) -> Failure:
    """Settings are validated when the books are opened: name the first bad one."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
    name = ".".join(str(part) for part in first["loc"])
    setting = f"POSTMETER_{name.upper()}" if name else "settings"
    return Failure(EXIT_INVALID, "invalid_config", one_line(f"{setting}: {first['msg']}"))


def one_line(text: str) -> str:
    """The first line of ``text``: drivers love multi-line messages with SQL in them."""
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return first.strip()


def report(fail: Failure, *, as_json: bool) -> None:
    """Print the failure: always one line on stderr; with ``--json`` also a document on stdout."""
    if as_json:
        sys.stdout.write(json.dumps(fail.as_json(), default=str) + "\n")
        sys.stdout.flush()
    sys.stderr.write(f"error: {fail.code}: {fail.message}\n")
    sys.stderr.flush()
