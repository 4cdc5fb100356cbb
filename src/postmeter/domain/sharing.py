"""Splitting an amount in proportion, exactly: the parts always add up to the whole."""

from __future__ import annotations

from collections.abc import Sequence


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (Hamilton's method).

    Each part gets the floor of its exact share; the steps left over go one each to the largest
    fractional remainders, ties to the earlier weight.

    >>> largest_remainder(10, [1, 1, 1])
    [4, 3, 3]
    """
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("total and weights must not be negative")
    whole = sum(weights)
    if whole == 0:
        if total:
            raise ValueError("cannot split a positive total over zero weights")
        return [0 for _ in weights]
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    leftover = total - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts
