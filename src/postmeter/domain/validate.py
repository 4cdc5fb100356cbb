"""Checks for the names, references and texts that callers give us."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from postmeter.domain.errors import InvalidInput

_CODE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_CURRENCY = re.compile(r"[A-Z]{3}")

ACCOUNT_STATUSES = ("active", "suspended", "blocked", "closed")


def is_code(value: object) -> bool:
    """Whether ``value`` has the shape of a code (so could name a unit, plan or package)."""
    return isinstance(value, str) and _CODE.fullmatch(value) is not None


def is_ref(value: object) -> bool:
    """Whether ``value`` has the shape of an account reference."""
    return isinstance(value, str) and _REF.fullmatch(value) is not None


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


def is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def check_instant(when: datetime, what: str) -> datetime:
    """An aware instant that UTC can hold (a date near year 1 or 9999 with an offset cannot)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput(f"{what} has no time zone offset")
    try:
        return when.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(f"{what} is out of range", value=when.isoformat()) from exc


def check_code(value: str, what: str = "code") -> str:
    """Codes name units, plans and packages: lower-case letters, digits, ``-`` and ``_``."""
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise InvalidInput(
            f"{what} {value!r} must be 1 to 32 lower-case letters, digits, '-' or '_'", value=value
        )
    return value


def check_ref(value: str) -> str:
    """An account reference: the operator's own id for the customer, up to 64 characters."""
    if not isinstance(value, str) or not _REF.fullmatch(value):
        raise InvalidInput(
            f"account reference {value!r} must be 1 to 64 letters, digits or . _ @ + -",
            value=value,
        )
    return value


def check_email(value: str) -> str:
    if (
        not isinstance(value, str)
        or len(value) > 254
        or not value.isprintable()
        or not _EMAIL.fullmatch(value)
    ):
        raise InvalidInput(f"{value!r} is not an e-mail address", value=value)
    return value


def check_text(value: str, what: str, max_length: int = 200) -> str:
    """A human-readable name or reason: printable, not blank, not too long."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    if not value.isprintable():
        raise InvalidInput(f"{what} must not contain control characters")
    return value


def check_currency(value: str) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidInput(f"currency {value!r} must be an ISO 4217 code like EUR", value=value)
    return value


def check_count(value: int, what: str, *, low: int = 0, high: int = 1_000_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its offset (``2026-04-09T10:00:00+02:00`` or ``...Z``)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError) as exc:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date and time", value=text) from exc
    if when.tzinfo is None:
        raise InvalidInput(f"{text!r} has no time zone offset (add Z or +02:00)", value=text)
    return when
