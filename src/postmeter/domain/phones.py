"""Which country a phone number reaches, by the ``phonenumbers`` metadata, fast enough for batches.

``phonenumbers.parse`` reads the number; its validity and country are then decided here with the
library's own metadata, in two regular expressions per number instead of the library's dozen
calls (``is_valid_number`` after ``region_code_for_number`` checks the same patterns twice, and
recompiles them once a batch spans more regions than the ``re`` module's cache holds). The answer
is the library's: a test compares the two on numbers of every region and type.

>>> locate("+33 6 12 34 56 78")
Destination(country='FR', e164='+33612345678', reason=None)
>>> locate("06 12 34 56 78", "FR").country
'FR'
>>> locate("+33 6 12").reason
'invalid_number'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from typing import Literal, NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberDesc

from postmeter.domain.errors import InvalidInput

Reason = Literal["invalid_number", "unknown_country"]

# The regions a number can resolve to: ISO 3166-1 alpha-2 codes, plus the few territories with
# calling codes of their own (AC Ascension, TA Tristan da Cunha, XK Kosovo).
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)

# A recipient list sent again tomorrow is mostly the same numbers: remember that many answers.
CACHE_SIZE = 2**15

# Every kind of number the library calls valid, in the order ``_number_type_helper`` tries them.
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)

Matcher = Callable[[str], re.Match[str] | None]


class Destination(NamedTuple):
    """Where a number goes: its country and E.164 form, or the reason it has none."""

    country: str | None
    e164: str | None
    reason: Reason | None


def locate(number: str, default_region: str | None = None) -> Destination:
    """The country of ``number``: written in E.164, or nationally for ``default_region``."""
    return _locate(number, default_region)


def locate_all(numbers: Sequence[str], default_region: str | None = None) -> list[Destination]:
    """``locate`` for each of ``numbers``; each distinct number is located once. A list longer
    than the cache would only churn it (every answer evicting an older one): such a list is
    located without it."""
    if len(numbers) <= CACHE_SIZE:
        return [_locate(number, default_region) for number in numbers]
    found: dict[str, Destination] = {}
    out: list[Destination] = []
    for number in numbers:
        where = found.get(number)
        if where is None:
            where = found[number] = _find(number, default_region)
        out.append(where)
    return out


def clear_cache() -> None:
    """Forget the numbers located so far, for a benchmark or test that needs the cold path."""
    _locate.cache_clear()


def check_region(code: str) -> str:
    """A region code that numbers can be read for, upper-cased: ``"fr"`` gives ``"FR"``."""
    upper = code.upper() if isinstance(code, str) else ""
    if upper not in COUNTRIES:
        raise InvalidInput(f"{code!r} is not a country code the phone numbering plan knows")
    return upper


def normalise(number: str, default_region: str | None = None) -> str:
    """``number`` in E.164 form, or :class:`InvalidInput` if it reaches no known country."""
    where = locate(number, default_region)
    if where.e164 is None or where.country is None:
        raise InvalidInput(f"{number!r} is not a phone number of a known country", value=number)
    return where.e164


def _find(number: str, default_region: str | None) -> Destination:
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException:
        return Destination(None, None, "invalid_number")
    national = phonenumbers.national_significant_number(parsed)
    region = _region(parsed, national)
    if region is None:
        return Destination(None, None, "invalid_number")
    e164 = f"+{parsed.country_code}{national}"
    if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return Destination(None, e164, "unknown_country")
    return Destination(region, e164, None)


_locate = lru_cache(maxsize=CACHE_SIZE)(_find)


def _region(parsed: PhoneNumber, national: str) -> str | None:
    """The region of a valid number, or None for an invalid one.

    As ``region_code_for_number`` then ``is_valid_number``: the first region of the calling code
    whose leading digits match, or failing those the first whose patterns the number fits.
    """
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(parsed.country_code or 0, ())
    if regions == (phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY,):
        # +800, +882 and the like: rare, and their metadata is looked up by calling code.
        return regions[0] if phonenumbers.is_valid_number(parsed) else None
    for region in regions:
        leading = _leading_digits(region)
        if leading is not None and leading(national):
            return region if _is_valid(national, region) else None
        if leading is None and _is_valid(national, region):
            return region
    return None


def _is_valid(national: str, region: str) -> bool:
    matcher = _validity_matcher(region, len(national))
    return matcher is not None and matcher(national) is not None


@cache
def _validity_matcher(region: str, length: int) -> Matcher | None:
    """One pattern for "fits the region's numbers, and is a kind of number of this length".

    The library checks the general pattern, then each kind's pattern in turn; a lookahead for
    the first and an alternation of the second do the same in one match. Kinds whose lengths
    exclude ``length`` are left out, as the library skips them.
    """
    metadata = PhoneMetadata.metadata_for_region(region, None)
    general = None if metadata is None else metadata.general_desc
    if metadata is None or general is None or not _admits(general, length):
        return None
    kinds = [getattr(metadata, kind) for kind in _TYPES]
    if metadata.same_mobile_and_fixed_line_pattern:
        kinds.pop()  # the library never tries mobile then: it is fixed line by another name
    alternatives = [
        f"(?:{kind.national_number_pattern})" for kind in kinds if _admits(kind, length)
    ]
    if not alternatives:
        return None
    pattern = f"(?=(?:{general.national_number_pattern})\\Z)(?:{'|'.join(alternatives)})"
    return re.compile(pattern).fullmatch


def _admits(desc: PhoneNumberDesc | None, length: int) -> bool:
    # No lengths listed means "as the general description"; (-1,) means "no such numbers".
    return (
        desc is not None
        and bool(desc.national_number_pattern)
        and (not desc.possible_length or length in desc.possible_length)
    )


@cache
def _leading_digits(region: str) -> Matcher | None:
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.leading_digits is None:
        return None
    return re.compile(metadata.leading_digits).match
