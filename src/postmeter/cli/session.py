"""What every command runs with: the global options, the books (opened on first use), the units."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

import postmeter as pm
from postmeter.cli.errors import DatabaseMissing
from postmeter.domain.errors import InsufficientCredits, InvalidAmount, InvalidInput
from postmeter.domain.units import Unit
from postmeter.domain.validate import parse_instant
from postmeter.service.units import get_unit

DEFAULT_URL = "sqlite:///postmeter.db"  # as config.Settings: the CLI does not reach into store
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class Session:
    """The global options of one invocation and what is built from them."""

    url: str
    json: bool
    now: datetime | None  # --now / POSTMETER_NOW: a fixed clock; None: the system clock
    actor: pm.Actor
    _context: pm.Context | None = None
    _units: dict[str, Unit] = field(default_factory=dict)

    def books(self, *, migrate: bool = False) -> pm.Context:
        """The service context, opened once. Only ``db upgrade``, ``init`` and ``demo`` migrate."""
        if self._context is None:
            if not migrate:
                _check_sqlite_file(self.url)
            clock: pm.Clock = pm.FixedClock(self.now) if self.now else pm.SystemClock()
            self._context = pm.connect(self.url, clock=clock, migrate=migrate)
        return self._context

    def unit(self, code: str) -> Unit:
        """The unit ``code`` (scale and policies), looked up once per invocation."""
        if code not in self._units:
            self._units[code] = get_unit(self.books(), code)
        return self._units[code]

    @contextmanager
    def shortfall_in(self, unit: str, account: str) -> Iterator[None]:
        """Say a refusal's shortfall in credits of ``unit``, as typed, not in integer steps."""
        try:
            yield
        except InsufficientCredits as exc:
            raise in_credits(exc, self.unit(unit), account) from exc

    def close(self) -> None:
        if self._context is not None:
            self._context.store.dispose()
            self._context = None


def _check_sqlite_file(url: str) -> None:
    """Refuse to read a SQLite file that is not there: connecting would create an empty one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # connect() says what is wrong with it
    path = parsed.database
    in_a_file = parsed.get_backend_name() == "sqlite" and path not in (None, "", ":memory:")
    if in_a_file and not Path(str(path)).exists():
        raise DatabaseMissing(f"no database at {path}: create it with `postmeter init`")


def in_credits(exc: InsufficientCredits, unit: Unit, account: str) -> InsufficientCredits:
    """The same refusal, its message and details in the unit's decimal form (steps kept)."""
    details = dict(exc.details)
    for name in ("shortfall", "available"):
        steps = details.pop(name, None)
        if isinstance(steps, int):
            details[name], details[f"{name}_steps"] = unit.format(steps), steps
    message = f"account {account!r} lacks {details.get('shortfall', '?')} {unit.code} credits"
    if "available" in details:
        message += f" (available: {details['available']})"
    details.update(account=account, unit=unit.code)
    return InsufficientCredits(message, **details)


def session(ctx: typer.Context) -> Session:
    obj = ctx.find_root().obj
    assert isinstance(obj, Session), "the root callback sets the session"
    return obj


def key_or_new(key: str | None) -> str:
    """The caller's idempotency key, or a fresh one (retrying then books twice: pass your own)."""
    return key if key is not None else f"cli-{uuid.uuid4()}"


def parse_when(text: str, option: str) -> datetime:
    """An instant from ISO 8601 with an offset, or a bare date (midnight UTC)."""
    value = text.strip()
    if _DATE_ONLY.fullmatch(value):
        try:
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        except ValueError as exc:
            raise InvalidInput(f"{option}: {text!r} is not a valid date", value=text) from exc
    try:
        return parse_instant(value).astimezone(UTC)
    except InvalidInput as exc:
        raise InvalidInput(f"{option}: {exc.message}", **exc.details) from exc


def parse_amount(unit: Unit, text: str, option: str = "--credits", *, zero: bool = False) -> int:
    """Credits typed in the unit's decimal form, as integer steps (``12.5`` sms -> 1250)."""
    # Checked here rather than left to the parser, whose messages count in steps, not credits.
    if text.strip().startswith("-"):
        raise InvalidAmount(f"{option}: {text!r} is negative; give a positive amount", value=text)
    try:
        steps = unit.parse(text, allow_zero=True)
    except InvalidAmount as exc:
        said = exc.message if repr(text) in exc.message else f"{text!r}: {exc.message}"
        raise InvalidAmount(f"{option}: {said}", **exc.details) from exc
    if steps == 0 and not zero:
        raise InvalidAmount(f"{option}: {text!r} is zero; give a positive amount", value=text)
    return steps
