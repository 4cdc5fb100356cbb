"""Numbers to countries: real numbers of many plans, national ones, and ones that reach nowhere."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from postmeter.domain.errors import InvalidInput
from postmeter.domain.phones import (
    CACHE_SIZE,
    COUNTRIES,
    Destination,
    check_region,
    clear_cache,
    locate,
    locate_all,
    normalise,
)


@pytest.mark.parametrize(
    ("number", "country", "e164"),
    [
        ("+33 6 12 34 56 78", "FR", "+33612345678"),
        ("+49 1512 3456789", "DE", "+4915123456789"),
        ("+44 7400 123456", "GB", "+447400123456"),
        ("+1 201-555-0123", "US", "+12015550123"),
        ("+1 416-555-0123", "CA", "+14165550123"),  # +1 is shared: the area code decides
        ("+55 11 96123-4567", "BR", "+5511961234567"),
        ("+91 81234 56789", "IN", "+918123456789"),
        ("+81 90-1234-5678", "JP", "+819012345678"),
        ("+61 412 345 678", "AU", "+61412345678"),
        ("+27 71 123 4567", "ZA", "+27711234567"),
        ("+234 802 123 4567", "NG", "+2348021234567"),
        ("+52 55 1234 5678", "MX", "+525512345678"),
        ("+44 7624 123456", "IM", "+447624123456"),  # +44 is shared too: the Isle of Man
        ("+7 701 234 5678", "KZ", "+77012345678"),  # and +7: Kazakhstan
        ("+7 912 345-67-89", "RU", "+79123456789"),
        ("+33612345678", "FR", "+33612345678"),
        ("0033 6 12 34 56 78", None, None),  # an international prefix needs a region to mean it
    ],
)
def test_an_international_number_reaches_its_country(
    number: str, country: str | None, e164: str | None
) -> None:
    where = locate(number)
    assert (where.country, where.e164) == (country, e164)


@pytest.mark.parametrize(
    ("number", "region", "country", "e164"),
    [
        ("06 12 34 56 78", "FR", "FR", "+33612345678"),
        ("030 123456", "DE", "DE", "+4930123456"),
        ("(201) 555-0123", "US", "US", "+12015550123"),
        ("07400 123456", "GB", "GB", "+447400123456"),
        ("0033 6 12 34 56 78", "DE", "FR", "+33612345678"),  # dialled from Germany
        ("+81 90-1234-5678", "FR", "JP", "+819012345678"),  # "+" wins over the region
    ],
)
def test_a_national_number_is_read_for_the_default_region(
    number: str, region: str, country: str, e164: str
) -> None:
    assert locate(number, region) == Destination(country, e164, None)


@pytest.mark.parametrize(
    ("number", "region", "reason"),
    [
        ("+33 6 12", None, "invalid_number"),  # too short
        ("+33 6 12 34 56 78 9", None, "invalid_number"),  # too long
        ("+1 201 055 0123", None, "invalid_number"),  # no NANP area code starts with 0
        ("+999 123 456", None, "invalid_number"),  # no such calling code
        ("06 12 34 56 78", None, "invalid_number"),  # national, and no region to read it for
        ("hello", None, "invalid_number"),
        ("", None, "invalid_number"),
        ("+800 1234 5678", None, "unknown_country"),  # international freephone: valid, no country
    ],
)
def test_a_number_that_reaches_no_country_says_why(
    number: str, region: str | None, reason: str
) -> None:
    where = locate(number, region)
    assert where.country is None
    assert where.reason == reason


def test_normalise_gives_e164_or_refuses() -> None:
    assert normalise("06 12 34 56 78", "FR") == "+33612345678"
    with pytest.raises(InvalidInput, match="not a phone number"):
        normalise("+33 6 12")
    with pytest.raises(InvalidInput, match="not a phone number"):
        normalise("+800 1234 5678")


def test_a_default_region_must_be_one_numbers_can_be_read_for() -> None:
    assert check_region("fr") == "FR"
    assert "FR" in COUNTRIES
    assert "001" not in COUNTRIES  # the non-geographic entity is no country
    for bad in ("ZZ", "FRA", "", "001"):
        with pytest.raises(InvalidInput, match="not a country code"):
            check_region(bad)


def test_a_located_number_is_remembered_and_can_be_forgotten() -> None:
    clear_cache()
    first = locate("+33 6 12 34 56 78")
    assert locate("+33 6 12 34 56 78") is first
    clear_cache()
    assert locate("+33 6 12 34 56 78") is not first


_KINDS = (
    *("FIXED_LINE", "MOBILE", "TOLL_FREE", "PREMIUM_RATE", "SHARED_COST", "VOIP"),
    *("PERSONAL_NUMBER", "PAGER", "UAN", "VOICEMAIL"),
)


def _library_answer(number: str) -> str | None:
    """What phonenumbers itself says: the country of a valid number, else None."""
    parsed = phonenumbers.parse(number)
    if not phonenumbers.is_valid_number(parsed):
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return None if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY else region


def _variants(rng: random.Random) -> list[str]:
    """Every region's example numbers of every kind, with digits changed, dropped and added."""
    numbers = []
    for region in sorted(COUNTRIES):
        for kind in (getattr(PhoneNumberType, name) for name in _KINDS):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            digits = phonenumbers.format_number(example, PhoneNumberFormat.E164)
            numbers.append(digits)
            numbers += [f"{digits[:-3]}{rng.randrange(1000):03d}" for _ in range(4)]
            numbers += [digits[:-1], f"{digits}{rng.randrange(10)}"]
    return numbers


def test_the_country_is_the_one_phonenumbers_gives_for_numbers_of_every_region() -> None:
    numbers = _variants(random.Random(7))
    assert len(numbers) > 5_000
    disagreements = [n for n in numbers if locate(n).country != _library_answer(n)]
    assert disagreements == []
    assert sum(locate(n).country is not None for n in numbers) > len(numbers) // 2


def test_the_country_is_the_library_s_on_random_numbers_of_shared_calling_codes() -> None:
    rng = random.Random(11)
    codes = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    shared = sorted(code for code, regions in codes.items() if len(regions) > 1)
    numbers = [
        f"+{rng.choice(shared)}{rng.randrange(10**length):0{length}d}"
        for length in range(6, 12)
        for _ in range(500)
    ]
    disagreements = [n for n in numbers if locate(n).country != _library_answer(n)]
    assert disagreements == []
    assert any(locate(n).country not in (None, "US", "GB", "RU") for n in numbers)


def test_a_list_longer_than_the_cache_is_located_as_each_number_alone() -> None:
    rng = random.Random(13)
    variants = _variants(rng)
    numbers = [rng.choice(variants) for _ in range(CACHE_SIZE + 5_000)]  # repeats included
    numbers += ["", "+", "not a number", "+999123"]
    short = numbers[:500]
    assert locate_all(numbers) == [locate(n) for n in numbers]
    assert locate_all(short, "FR") == [locate(n, "FR") for n in short]
