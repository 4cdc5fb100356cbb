"""Rate cards: credits per SMS part to each country, in versions that take effect on a date.

A version holds integer steps of the unit per part, country by country, and may hold a default
for the countries it does not name; a country with neither is not sent to. A send is priced by
the version in force at the instant it is charged, so a new price list can be loaded ahead of
its date. Operators keep their price lists in spreadsheets, hence CSV in and out::

    country,credits
    FR,0.75
    *,1.25

>>> card = parse_rates_csv("FR,0.75\\n*,1.25\\n", 2, datetime(2026, 1, 1, tzinfo=UTC))
>>> card.rate_for("FR"), card.rate_for("BR")
(75, 125)
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from operator import attrgetter
from types import MappingProxyType

from postmeter.domain.amounts import check_credits, format_credits, parse_credits
from postmeter.domain.errors import InvalidAmount, InvalidInput
from postmeter.domain.phones import COUNTRIES
from postmeter.domain.validate import check_code, check_instant

DEFAULT = "*"  # the default rate's row in CSV; "default" is read as well
HEADER = ("country", "credits")


@dataclass(frozen=True, slots=True)
class RateCardVersion:
    """Credits per SMS part for each country from ``effective_from`` on, in steps of the unit."""

    effective_from: datetime
    rates: Mapping[str, int]
    default: int | None = None

    def __post_init__(self) -> None:
        at = check_instant(self.effective_from, "effective_from")
        rates = {_check_country(c): _check_rate(r, c) for c, r in self.rates.items()}
        if self.default is not None:
            _check_rate(self.default, "the default")
        if not rates and self.default is None:
            raise InvalidInput("a rate card needs a rate for at least one country or a default")
        # Frozen all the way down: a version in force must not change under a send.
        object.__setattr__(self, "effective_from", at)
        object.__setattr__(self, "rates", MappingProxyType(dict(sorted(rates.items()))))

    def rate_for(self, country: str) -> int | None:
        """Credits per part to ``country``, or None when the card does not send there."""
        return self.rates.get(country, self.default)


@dataclass(frozen=True, slots=True)
class RateCard:
    """A unit's rate card over time: each version is in force until the next one's date."""

    unit: str
    versions: tuple[RateCardVersion, ...]

    def __post_init__(self) -> None:
        check_code(self.unit, "unit")
        versions = tuple(sorted(self.versions, key=attrgetter("effective_from")))
        for earlier, later in pairwise(versions):
            if earlier.effective_from == later.effective_from:
                raise InvalidInput(
                    f"two versions of the {self.unit} rate card take effect at "
                    f"{later.effective_from.isoformat()}",
                    effective_from=later.effective_from.isoformat(),
                )
        object.__setattr__(self, "versions", versions)

    def in_force(self, at: datetime) -> RateCardVersion | None:
        """The version with the latest ``effective_from`` at or before ``at``, if any."""
        when = check_instant(at, "the instant of pricing")
        index = bisect_right(self.versions, when, key=attrgetter("effective_from"))
        return self.versions[index - 1] if index else None


def parse_rates_csv(text: str, scale: int, effective_from: datetime) -> RateCardVersion:
    """Read ``country,credits`` rows (header optional, ``*`` for the default) into a version.

    Credits are decimals of a unit with ``scale`` decimal places; an error names its line.
    """
    rates: dict[str, int] = {}
    seen_on: dict[str, int] = {}  # country (or DEFAULT) -> the line that rated it
    for line, country, credits in _rows(text):
        if country in seen_on:
            raise InvalidInput(
                f"line {line}: {_name(country)} already has a rate, on line {seen_on[country]}",
                line=line,
            )
        seen_on[country] = line
        rates[country] = _parse_rate(credits, scale, line, country)
    default = rates.pop(DEFAULT, None)
    return RateCardVersion(effective_from, rates, default)


def format_rates_csv(version: RateCardVersion, scale: int) -> str:
    """Write a version as ``parse_rates_csv`` reads it: countries in order, the default last."""
    rows = [",".join(HEADER)]
    rows += [f"{country},{format_credits(rate, scale)}" for country, rate in version.rates.items()]
    if version.default is not None:
        rows.append(f"{DEFAULT},{format_credits(version.default, scale)}")
    return "\n".join(rows) + "\n"


def _rows(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, country or DEFAULT, credits text) for each row that is not blank."""
    if not isinstance(text, str):
        raise InvalidInput("a rate card must be CSV text")
    # Spreadsheets save CSV with a byte order mark in front.
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    first = True
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if first and tuple(c.strip().lower() for c in cells) == HEADER:
                first = False
                continue
            first = False
            yield reader.line_num, *_cells(cells, reader.line_num)
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: {exc}", line=reader.line_num) from exc


def _cells(cells: list[str], line: int) -> tuple[str, str]:
    if len(cells) != 2:
        raise InvalidInput(
            f"line {line}: expected 2 columns (country,credits), found {len(cells)}", line=line
        )
    key, credits = (cell.strip() for cell in cells)
    if key.lower() in (DEFAULT, "default"):
        return DEFAULT, credits
    country = key.upper()
    if country not in COUNTRIES:
        raise InvalidInput(f"line {line}: {key!r} is not a country code", line=line)
    return country, credits


def _parse_rate(credits: str, scale: int, line: int, country: str) -> int:
    try:
        return parse_credits(credits, scale)
    except InvalidAmount as exc:
        raise InvalidInput(f"line {line} ({_name(country)}): {exc.message}", line=line) from exc


def _check_country(country: str) -> str:
    if country not in COUNTRIES:
        raise InvalidInput(f"{country!r} is not a country code", value=country)
    return country


def _check_rate(rate: int, where: str) -> int:
    try:
        return check_credits(rate)
    except InvalidAmount as exc:
        raise InvalidAmount(f"rate for {where}: {exc.message}", value=str(rate)) from exc


def _name(country: str) -> str:
    return "the default" if country == DEFAULT else country
