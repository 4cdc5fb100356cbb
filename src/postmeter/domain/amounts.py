"""Credits as integers of a unit's smallest step, parsed from and shown as exact decimals.

A unit of scale 2 counts hundredths: ``parse_credits("12.5", 2) == 1250``. Floats never enter:
text is parsed digit by digit, and anything that is not a plain decimal is refused.
"""

from __future__ import annotations

import re

from postmeter.domain.errors import InvalidAmount

# Amounts live in 64-bit signed columns on both databases.
MAX_CREDITS = 2**63 - 1
MAX_SCALE = 9

_DECIMAL = re.compile(r"(?P<sign>-)?(?P<whole>[0-9]{1,40})(?:\.(?P<frac>[0-9]{1,40}))?")


def parse_credits(text: str, scale: int, *, allow_zero: bool = False) -> int:
    """Parse a positive decimal string into integer steps of ``scale`` decimal places.

    >>> parse_credits("1,000".replace(",", ""), 0)
    1000
    """
    if not isinstance(text, str):
        raise InvalidAmount(f"amount must be a decimal string, not {type(text).__name__}")
    cleaned = text.strip().replace("_", "")
    match = _DECIMAL.fullmatch(cleaned)
    if match is None:
        raise InvalidAmount(f"{text!r} is not a decimal number", value=text)
    frac = match.group("frac") or ""
    if len(frac.rstrip("0")) > scale:
        raise InvalidAmount(
            f"{text!r} has more decimals than the unit allows ({scale})", value=text, scale=scale
        )
    frac = frac.ljust(scale, "0")[:scale]
    steps = int(match.group("whole") + frac)
    # Say what was typed, not the steps it makes: "-5" sms is not "-500".
    if match.group("sign") and steps:
        raise InvalidAmount(f"amount must be greater than zero, not {text.strip()}", value=text)
    if steps == 0 and not allow_zero:
        raise InvalidAmount(f"amount must be greater than zero, not {text.strip()}", value=text)
    if steps > MAX_CREDITS:
        raise InvalidAmount(f"{text.strip()} is larger than 2^63 - 1 steps of the unit", value=text)
    return steps


def check_credits(steps: int, *, allow_zero: bool = False) -> int:
    """Refuse a count of steps that is not a positive 64-bit integer (bools included)."""
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise InvalidAmount(f"amount must be an integer number of steps, not {steps!r}")
    if steps < 0 or (steps == 0 and not allow_zero):
        raise InvalidAmount(f"amount must be greater than zero, not {steps}", value=steps)
    if steps > MAX_CREDITS:
        raise InvalidAmount("amount is larger than 2^63 - 1 steps", value=str(steps))
    return steps


def format_credits(steps: int, scale: int) -> str:
    """Show integer steps as an exact decimal: ``format_credits(1250, 2) == "12.50"``."""
    if scale == 0:
        return str(steps)
    sign = "-" if steps < 0 else ""
    digits = str(abs(steps)).rjust(scale + 1, "0")
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"
