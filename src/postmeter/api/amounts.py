"""Amounts in JSON: a decimal string in the unit's form (``"12.50"``) or an integer number of
credits (``12``); never a float, whose binary rounding has no place in the books."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StrictStr

from postmeter.domain.amounts import MAX_CREDITS, check_credits
from postmeter.domain.errors import InvalidAmount
from postmeter.domain.units import Unit

Credits = Annotated[
    StrictInt | Annotated[StrictStr, Field(max_length=64)],
    Field(
        description="Credits: a decimal string in the unit's scale, or an integer; floats are "
        "refused.",
        examples=["250", "12.50", 250],
    ),
]


def to_steps(value: int | str, unit: Unit, *, allow_zero: bool = False) -> int:
    """Integer steps of ``unit`` for an amount given in JSON."""
    if isinstance(value, bool):
        raise InvalidAmount("amount must be a decimal string or an integer, not a boolean")
    if isinstance(value, int):
        if abs(value) > MAX_CREDITS:
            raise InvalidAmount("amount is larger than 2^63 - 1 steps", value=str(value))
        return check_credits(value * 10**unit.scale, allow_zero=allow_zero)
    return unit.parse(value, allow_zero=allow_zero)
