"""Splitting an amount in proportion (largest remainder): the parts always add up exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.sharing import largest_remainder


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (10, [1, 1, 1], [4, 3, 3]),
        (100, [1, 1, 1], [34, 33, 33]),
        (9, [1, 1, 1], [3, 3, 3]),
        # AcyMailing's domains 5,000 / 8,000 / 7,000: shares 1.75, 2.8, 2.45 of 7.
        (7, [5000, 8000, 7000], [2, 3, 2]),
        # SMS platform: 600 expired credits taken from assignments of 300, 200 and 100.
        (600, [300, 200, 100], [300, 200, 100]),
        (100, [300, 200, 100], [50, 33, 17]),
        (5, [0, 3], [0, 5]),
        (0, [1, 2], [0, 0]),
        (0, [], []),
        (0, [0, 0], [0, 0]),
        (1, [7], [1]),
    ],
)
def test_uneven_splits(total: int, weights: list[int], parts: list[int]) -> None:
    assert largest_remainder(total, weights) == parts


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (1, [1, 1], [1, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (1, [2, 1, 1], [1, 0, 0]),  # no tie: 0.5 beats 0.25
        (2, [1, 2, 1], [1, 1, 0]),  # 0.5 / 1.0 / 0.5: the leftover step to the first 0.5
        (3, [1, 1, 1, 1], [1, 1, 1, 0]),
    ],
)
def test_ties_go_to_the_earlier_weight(total: int, weights: list[int], parts: list[int]) -> None:
    assert largest_remainder(total, weights) == parts


@pytest.mark.parametrize(("total", "weights"), [(-1, [1]), (5, [1, -1]), (5, []), (5, [0, 0])])
def test_impossible_splits_are_refused(total: int, weights: list[int]) -> None:
    with pytest.raises(ValueError, match="weights"):
        largest_remainder(total, weights)


@given(
    total=st.integers(0, 10**12),
    weights=st.lists(st.integers(0, 10**9), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
def test_parts_sum_to_the_total_each_within_one_of_its_exact_share(
    total: int, weights: list[int]
) -> None:
    parts = largest_remainder(total, weights)
    whole = sum(weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    for part, weight in zip(parts, weights, strict=True):
        # floor(share) <= part <= floor(share) + 1, compared exactly without division.
        assert part * whole <= total * weight + whole - 1 + whole
        assert part * whole >= total * weight - (whole - 1)
        assert total * weight // whole <= part <= total * weight // whole + 1
        if weight == 0:
            assert part == 0
    # A bigger weight never gets a smaller part.
    for i in range(len(weights)):
        for j in range(len(weights)):
            if weights[i] > weights[j]:
                assert parts[i] >= parts[j]
