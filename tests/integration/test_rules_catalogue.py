"""The tiered catalogue [DirectMail]: a bigger package may be cheaper per credit, never dearer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import postmeter as pm
from tests.support.model import count_rows

OP = pm.OPERATOR


def package(code: str, credits: int, price_minor: int, *, unit: str = "email",
            currency: str = "EUR") -> pm.Package:  # fmt: skip
    return pm.Package(code, code, unit, credits, 6, 0, price_minor, currency, True)


def test_bigger_packages_may_be_cheaper_per_credit(ctx: pm.Context) -> None:
    for i, (credits, price) in enumerate([(1_000, 1_000), (10_000, 9_000), (100_000, 80_000)]):
        pm.create_package(ctx, OP, f"p{i}", package(f"p{credits}", credits, price))
    assert count_rows(ctx, "packages") == 3


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("small", 1_000, 1_000), ("big", 10_000, 12_000)),  # a bigger one, dearer per credit
        (("big", 10_000, 9_000), ("small", 1_000, 800)),  # a smaller one, cheaper per credit
        (("small", 1_000, 1_000), ("big", 10_000, 10_001)),  # dearer by the smallest step
    ],
)
def test_a_package_that_would_make_bigger_dearer_per_credit_is_refused(
    ctx: pm.Context, first: tuple[str, int, int], second: tuple[str, int, int]
) -> None:
    pm.create_package(ctx, OP, "first", package(*first))
    with pytest.raises(pm.InvalidInput, match="dearer per credit") as refused:
        pm.create_package(ctx, OP, "second", package(*second))
    assert refused.value.details == {"package": second[0]}
    assert count_rows(ctx, "packages") == 1


def test_the_same_price_per_credit_is_not_dearer(ctx: pm.Context) -> None:
    pm.create_package(ctx, OP, "a", package("small", 1_000, 1_000))
    pm.create_package(ctx, OP, "b", package("big", 10_000, 10_000))
    assert count_rows(ctx, "packages") == 2


def test_packages_of_other_currencies_or_units_are_not_compared(ctx: pm.Context) -> None:
    pm.create_package(ctx, OP, "a", package("eur-small", 1_000, 1_000))
    pm.create_package(ctx, OP, "b", package("usd-big", 10_000, 50_000, currency="USD"))
    pm.create_package(ctx, OP, "c", package("sms-big", 10_000, 50_000, unit="sms"))
    assert count_rows(ctx, "packages") == 3


BAD_PACKAGES: list[tuple[dict[str, Any], type[pm.PostmeterError]]] = [
    ({"credits": 0}, pm.InvalidAmount),
    ({"credits": -5}, pm.InvalidAmount),
    ({"credits": 2**63}, pm.InvalidAmount),
    ({"price_minor": -1}, pm.InvalidAmount),
    ({"validity_months": 0, "validity_days": 0}, pm.InvalidInput),
    ({"validity_months": -1}, pm.InvalidInput),
    ({"currency": "euro"}, pm.InvalidInput),
    ({"code": "Big Pack"}, pm.InvalidInput),
    ({"name": ""}, pm.InvalidInput),
    ({"unit": "fax"}, pm.NotFound),
]


def test_bad_packages_are_refused_and_nothing_is_stored(ctx: pm.Context) -> None:
    for change, error in BAD_PACKAGES:
        with pytest.raises(error):
            pm.create_package(ctx, OP, "bad", replace(package("p", 1_000, 1_000), **change))
    assert count_rows(ctx, "packages") == 0


def test_a_package_code_is_taken_once(ctx: pm.Context) -> None:
    pm.create_package(ctx, OP, "a", package("small", 1_000, 1_000))
    with pytest.raises(pm.AlreadyExists):
        pm.create_package(ctx, OP, "b", package("small", 2_000, 1_000))


def test_an_unknown_package_cannot_be_bought(ctx: pm.Context) -> None:
    pm.create_account(ctx, OP, "open", "shop", "Shop", "s@shop.test")
    with pytest.raises(pm.NotFound, match="no package"):
        pm.buy(ctx, OP, "buy", "shop", "nothing")
