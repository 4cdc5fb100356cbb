"""Credits are integers of a unit's smallest step, parsed from exact decimals and shown back."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.amounts import MAX_CREDITS, MAX_SCALE, check_credits, format_credits
from postmeter.domain.amounts import parse_credits as parse
from postmeter.domain.errors import InvalidAmount, InvalidInput

assert MAX_CREDITS == 2**63 - 1


@pytest.mark.parametrize(
    ("text", "scale", "steps"),
    [
        ("1", 0, 1),
        ("250", 0, 250),
        ("12.5", 2, 1250),
        ("12.50", 2, 1250),
        ("0.01", 2, 1),
        ("0.000000001", 9, 1),
        ("3.000", 0, 3),  # trailing zeros are not extra precision
        ("  7 ", 0, 7),
        ("1_000", 0, 1000),
        ("007", 0, 7),
        ("9223372036854775807", 0, MAX_CREDITS),
        ("92233720368547758.07", 2, MAX_CREDITS),
    ],
)
def test_parse_counts_steps_of_the_units_scale(text: str, scale: int, steps: int) -> None:
    assert parse(text, scale) == steps


@pytest.mark.parametrize(("text", "scale"), [("0", 0), ("0.00", 2), ("-0", 0), ("0.0", 0)])
def test_zero_is_refused_unless_allowed(text: str, scale: int) -> None:
    with pytest.raises(InvalidAmount, match="greater than zero"):
        parse(text, scale)
    assert parse(text, scale, allow_zero=True) == 0


@pytest.mark.parametrize(("text", "scale"), [("-1", 0), ("-0.5", 2), ("-9223372036854775807", 0)])
def test_negative_amounts_are_refused(text: str, scale: int) -> None:
    with pytest.raises(InvalidAmount, match="greater than zero"):
        parse(text, scale, allow_zero=True)


@pytest.mark.parametrize(
    ("text", "scale"),
    [
        ("9223372036854775808", 0),
        ("92233720368547758.08", 2),
        ("18446744073709551616", 0),
        ("9" * 40, 0),
    ],
)
def test_amounts_above_two_to_the_63_minus_one_steps_are_refused(text: str, scale: int) -> None:
    with pytest.raises(InvalidAmount, match=r"2\^63"):
        parse(text, scale)


@pytest.mark.parametrize(
    ("text", "scale"), [("1.5", 0), ("0.001", 2), ("12.345", 2), ("1.0000000001", 9)]
)
def test_more_decimals_than_the_scale_are_refused_not_rounded(text: str, scale: int) -> None:
    with pytest.raises(InvalidAmount, match="more decimals") as caught:
        parse(text, scale)
    assert caught.value.details == {"value": text, "scale": scale}


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "abc",
        "1e3",
        "1E3",
        "1.",
        ".5",
        "+1",
        "1,000",
        "1 000",
        "0x10",
        "--1",
        "1.2.3",
        "NaN",
        "inf",
        "12abc",
        "\uff11\uff12",  # full-width digits
        "\u0661\u0662",  # Arabic-Indic digits
        "1" * 41,
        "1." + "0" * 41,
    ],
)
def test_junk_strings_are_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(InvalidAmount, match="not a decimal number"):
        parse(text, 2)


@pytest.mark.parametrize("value", [12, 1.5, True, None, b"12"])
def test_only_strings_are_parsed(value: Any) -> None:
    with pytest.raises(InvalidAmount, match="decimal string"):
        parse(value, 0)


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None])
def test_check_credits_refuses_what_is_not_an_int_bools_included(value: Any) -> None:
    with pytest.raises(InvalidAmount, match="integer number of steps"):
        check_credits(value)


@pytest.mark.parametrize(
    ("steps", "allow_zero", "ok"),
    [
        (1, False, True),
        (MAX_CREDITS, False, True),
        (0, False, False),
        (0, True, True),
        (-1, True, False),
        (MAX_CREDITS + 1, True, False),
    ],
)
def test_check_credits_bounds(steps: int, allow_zero: bool, ok: bool) -> None:
    if ok:
        assert check_credits(steps, allow_zero=allow_zero) == steps
    else:
        with pytest.raises(InvalidAmount):
            check_credits(steps, allow_zero=allow_zero)


def test_invalid_amount_is_an_invalid_input_with_its_own_code() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse("x", 0)
    assert caught.value.code == "invalid_amount"


@pytest.mark.parametrize(
    ("steps", "scale", "text"),
    [
        (1250, 2, "12.50"),
        (5, 2, "0.05"),
        (0, 2, "0.00"),
        (-5, 2, "-0.05"),
        (-1250, 2, "-12.50"),
        (100, 0, "100"),
        (-3, 0, "-3"),
        (1, 9, "0.000000001"),
        (MAX_CREDITS, 0, "9223372036854775807"),
        (MAX_CREDITS, 2, "92233720368547758.07"),
    ],
)
def test_format_shows_exact_decimals_with_the_scales_places(
    steps: int, scale: int, text: str
) -> None:
    assert format_credits(steps, scale) == text


@given(steps=st.integers(1, MAX_CREDITS), scale=st.integers(0, MAX_SCALE))
def test_parse_of_format_gives_back_the_steps(steps: int, scale: int) -> None:
    assert parse(format_credits(steps, scale), scale) == steps


@given(
    whole=st.integers(0, 10**9),
    frac=st.integers(0, 10**MAX_SCALE - 1),
    scale=st.integers(1, MAX_SCALE),
)
def test_format_of_parse_gives_back_a_canonical_decimal(whole: int, frac: int, scale: int) -> None:
    digits = str(frac % 10**scale).rjust(scale, "0")
    text = f"{whole}.{digits}"
    if whole == 0 and int(digits) == 0:
        return  # zero is refused; covered above
    assert format_credits(parse(text, scale), scale) == text
