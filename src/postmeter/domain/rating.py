"""What a send costs: SMS parts x recipients x the rate of each recipient's country; e-mail per
recipient.

"To send to 10 recipients it may take more than 10 credits": a two-part text to ten numbers in
a country rated 1.25 costs 25. A number that cannot be priced (invalid, of no country, or to a
country the card does not rate) is never charged at a guess: the send is refused with every such
number listed, or, when the caller asks for ``partial``, priced without them and listing them.

>>> card = RateCardVersion(datetime(2026, 1, 1, tzinfo=UTC), {"FR": 75, "DE": 100}, default=125)
>>> quote = quote_sms("Hi", ["+33612345678", "+4915123456789"], card)
>>> quote.credits, [(line.country, line.credits) for line in quote.lines]
(175, [('DE', 100), ('FR', 75)])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from postmeter.domain.amounts import MAX_CREDITS, check_credits
from postmeter.domain.errors import InvalidInput, Unratable
from postmeter.domain.phones import check_region, locate_all
from postmeter.domain.rates import DEFAULT, RateCardVersion
from postmeter.domain.sms import Segments, segment

RefusalReason = Literal["invalid_number", "unknown_country", "no_rate"]

# How many refused numbers the message itself names; the details list every one.
_NAMED_IN_MESSAGE = 5


class QuoteLine(NamedTuple):
    """One destination country of a send: ``parts`` counts every part to every recipient."""

    country: str
    recipients: int
    parts: int
    rate: int  # credits per part
    credits: int


class Refusal(NamedTuple):
    """A number that cannot be priced, and why."""

    number: str
    reason: RefusalReason
    country: str | None = None  # for "no_rate": the country the card does not rate

    def as_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"number": self.number, "reason": self.reason}
        if self.country is not None:
            detail["country"] = self.country
        return detail


@dataclass(frozen=True, slots=True)
class Quote:
    """The price of one message to a list of numbers, country by country, in steps of the unit."""

    segments: Segments
    lines: tuple[QuoteLine, ...]  # by country code
    refused: tuple[Refusal, ...]  # empty unless priced with ``partial``
    credits: int

    @property
    def recipients(self) -> int:
        return sum(line.recipients for line in self.lines)


def quote_sms(
    text: str,
    numbers: Sequence[str],
    rates: RateCardVersion,
    *,
    default_region: str | None = None,
    partial: bool = False,
) -> Quote:
    """Price ``text`` to ``numbers`` by the card version ``rates``, without charging anything.

    Numbers are E.164, or national numbers of ``default_region``. Raises :class:`Unratable`
    listing the numbers that cannot be priced, unless ``partial`` prices the others.
    """
    segments = segment(text)
    if not numbers:
        raise InvalidInput("a send needs at least one recipient")
    region = None if default_region is None else check_region(default_region)
    counts, refused = _count_by_country(numbers, rates, region)
    if refused and not partial:
        raise _unratable(refused, len(numbers))
    lines = tuple(
        _line(country, recipients, segments.count, rates)
        for country, recipients in sorted(counts.items())
    )
    credits = sum(line.credits for line in lines)
    if credits > MAX_CREDITS:
        raise InvalidInput("the send would cost more than 2^63 - 1 steps of the unit")
    return Quote(segments, lines, tuple(refused), credits)


def sms_per_package(
    packages: Mapping[str, int], rates: RateCardVersion
) -> dict[str, dict[str, int]]:
    """How many single-part SMS each package's credits buy, per country the card rates.

    ``packages`` maps a package's code to its credits; the default rate, if any, is under ``*``.

    >>> sms_per_package({"starter": 1000}, card)
    {'starter': {'DE': 10, 'FR': 13, '*': 8}}
    """
    rated = dict(rates.rates)
    if rates.default is not None:
        rated[DEFAULT] = rates.default
    return {
        code: {country: credits // rate for country, rate in rated.items()}
        for code, credits in packages.items()
    }


def email_credits(
    recipients: int, scale: int, *, account_rate: int | None = None, plan_rate: int | None = None
) -> int:
    """What an e-mail to ``recipients`` costs: the account's rate, else its plan's, else 1 credit.

    Rates are steps of the unit per recipient; one credit is ``10 ** scale`` steps.

    >>> email_credits(250, 0), email_credits(250, 0, plan_rate=2)
    (250, 500)
    """
    if isinstance(recipients, bool) or not isinstance(recipients, int) or recipients < 1:
        raise InvalidInput(f"a send needs at least one recipient, not {recipients!r}")
    rate = next((r for r in (account_rate, plan_rate) if r is not None), 10**scale)
    credits = recipients * check_credits(rate)
    if credits > MAX_CREDITS:
        raise InvalidInput("the send would cost more than 2^63 - 1 steps of the unit")
    return credits


def _count_by_country(
    numbers: Sequence[str], rates: RateCardVersion, region: str | None
) -> tuple[dict[str, int], list[Refusal]]:
    """Recipients per rated country, and the numbers refused.

    The hot path of rating: one ``locate`` and one dictionary update each.
    """
    counts: dict[str, int] = {}
    refused: list[Refusal] = []
    rated = rates.rates
    rates_every_country = rates.default is not None
    for number, (country, _, reason) in zip(numbers, locate_all(numbers, region), strict=True):
        if country is None:
            assert reason is not None, "a number without a country says why"
            refused.append(Refusal(number, reason))
        elif rates_every_country or country in rated:
            counts[country] = counts.get(country, 0) + 1
        else:
            refused.append(Refusal(number, "no_rate", country))
    return counts, refused


def _line(
    country: str, recipients: int, parts_per_message: int, rates: RateCardVersion
) -> QuoteLine:
    rate = rates.rate_for(country)
    assert rate is not None, "only rated countries are counted"
    parts = recipients * parts_per_message
    return QuoteLine(country, recipients, parts, rate, parts * rate)


def _unratable(refused: list[Refusal], seen: int) -> Unratable:
    named = "; ".join(_describe(r) for r in refused[:_NAMED_IN_MESSAGE])
    more = len(refused) - _NAMED_IN_MESSAGE
    if more > 0:
        named += f"; and {more} more"
    return Unratable(
        f"{len(refused)} of {seen} recipients cannot be priced: {named}",
        recipients=[r.as_detail() for r in refused],
    )


def _describe(refusal: Refusal) -> str:
    if refusal.reason == "no_rate":
        return f"{refusal.number} (no rate for {refusal.country})"
    if refusal.reason == "unknown_country":
        return f"{refusal.number} (not a number of any country)"
    return f"{refusal.number} (not a valid phone number)"
