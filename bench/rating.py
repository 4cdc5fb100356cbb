"""Rating SMS recipients beside ``phonenumbers.parse`` alone: the price of knowing the country.

100,000 distinct valid numbers over 50 countries, made from the library's example numbers with
their last digits varied (kept only if ``phonenumbers.is_valid_number`` agrees), then shuffled so
that consecutive numbers seldom share a country. Each round parses them all, then quotes a
message to them all with the cache of located numbers emptied first, so every number is located
afresh; the ratio is the median of the rounds' own ratios, as in bench/run.py.

    python -m bench.rating
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from postmeter.domain import phones
from postmeter.domain.rates import RateCardVersion
from postmeter.domain.rating import quote_sms

NUMBERS = 100_000
SEED = 5
# Fifty destinations an SMS platform sends to most, over every continent and numbering plan
# (NANP's shared +1, the UK's shared +44, fixed-length and variable-length plans).
COUNTRIES = (
    *("US", "CA", "MX", "BR", "AR", "CO", "CL", "PE", "GB", "IE", "FR", "DE", "ES", "IT", "PT"),
    *("NL", "BE", "CH", "AT", "SE", "NO", "DK", "FI", "PL", "CZ", "RO", "HU", "GR", "TR", "RU"),
    *("UA", "IL", "AE", "SA", "EG", "MA", "NG", "KE", "ZA", "IN", "PK", "BD", "CN", "JP", "KR"),
    *("ID", "PH", "VN", "AU", "NZ"),
)
TEXT = "Your code is 123456"


def measure(seconds_budget: float = 12.0, count: int = NUMBERS) -> dict[str, Any]:
    """Numbers per second parsed, and rated, and the median ratio of the two, over 3+ rounds."""
    numbers = sample_numbers(count)
    card = RateCardVersion(datetime(2026, 1, 1, tzinfo=UTC), dict.fromkeys(COUNTRIES, 5))

    def parse() -> object:
        return [phonenumbers.parse(n) for n in numbers]

    def rate() -> object:
        phones.clear_cache()
        return quote_sms(TEXT, numbers, card)

    parse(), rate()  # load the metadata and compile the patterns before timing anything
    deadline = time.perf_counter() + seconds_budget
    parse_per_s: list[float] = []
    rating_per_s: list[float] = []
    while len(parse_per_s) < 3 or time.perf_counter() < deadline:
        parse_per_s.append(len(numbers) / _timed(parse))
        rating_per_s.append(len(numbers) / _timed(rate))
    return {
        "spread": (min(rating_per_s), max(rating_per_s)),
        "rating_per_s": statistics.median(rating_per_s),
        "parse_per_s": statistics.median(parse_per_s),
        "ratio": statistics.median(r / p for r, p in zip(rating_per_s, parse_per_s, strict=True)),
    }


def sample_numbers(count: int = NUMBERS) -> list[str]:
    """``count`` distinct valid E.164 numbers, the same on every run, in a shuffled order."""
    per_country = -(-count // len(COUNTRIES))
    numbers = [n for country in COUNTRIES for n in _country_numbers(country, per_country)]
    random.Random(SEED).shuffle(numbers)
    return numbers[:count]


def _country_numbers(country: str, count: int) -> list[str]:
    bases = [
        phonenumbers.format_number(example, PhoneNumberFormat.E164)
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE)
        if (example := phonenumbers.example_number_for_type(country, kind)) is not None
    ]
    found: dict[str, None] = {}  # insertion-ordered, so the sample is the same on every run
    for suffix in range(10_000):
        for base in bases:
            number = f"{base[:-4]}{suffix:04d}"
            if number not in found and phonenumbers.is_valid_number(phonenumbers.parse(number)):
                found[number] = None
        if len(found) >= count:
            return list(found)[:count]
    raise AssertionError(f"fewer than {count} valid numbers vary the examples of {country}")


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:>13}  {value}")
