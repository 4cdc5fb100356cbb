"""Units: what credits are counted in, each with its own scale and operator policies."""

from __future__ import annotations

from dataclasses import dataclass

from postmeter.domain.amounts import format_credits, parse_credits


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    scale: int  # decimal places: amounts are integers of 10^-scale credits
    extend_on_purchase: bool = False
    signup_credits: int = 0
    signup_days: int | None = None

    def parse(self, text: str, *, allow_zero: bool = False) -> int:
        return parse_credits(text, self.scale, allow_zero=allow_zero)

    def format(self, steps: int) -> str:
        return format_credits(steps, self.scale)
