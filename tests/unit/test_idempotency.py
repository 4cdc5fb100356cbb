"""Request fingerprints tell a replayed key from a reused one; keys are short printable ASCII."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.errors import InvalidInput
from postmeter.domain.idempotency import MAX_KEY_LENGTH, check_key, fingerprint

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
requests = st.dictionaries(st.text(max_size=8), scalars | st.lists(scalars, max_size=3), max_size=8)


@given(request=requests, seed=st.integers(0, 2**32))
def test_fingerprint_does_not_depend_on_key_order(request: dict[str, Any], seed: int) -> None:
    items = list(request.items())
    random.Random(seed).shuffle(items)
    assert fingerprint("charge", dict(items)) == fingerprint("charge", request)


def test_nested_key_order_does_not_matter_either() -> None:
    a = {"price": {"minor": 100, "per": 1}, "account": "acme"}
    b = {"account": "acme", "price": {"per": 1, "minor": 100}}
    assert fingerprint("payg", a) == fingerprint("payg", b)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("charge", {"credits": 1}), ("grant", {"credits": 1})),  # the operation counts
        (("charge", {"credits": 1}), ("charge", {"credits": 2})),
        (("charge", {"credits": 1}), ("charge", {"credits": "1"})),  # so does the type
        (("charge", {"credits": 1}), ("charge", {"credits": 1, "reference": "x"})),
        (("charge", {"ref": None}), ("charge", {})),
        (("charge", {"a": [1, 2]}), ("charge", {"a": [2, 1]})),  # lists keep their order
    ],
)
def test_different_requests_have_different_fingerprints(
    left: tuple[str, dict[str, Any]], right: tuple[str, dict[str, Any]]
) -> None:
    assert fingerprint(*left) != fingerprint(*right)


def test_a_fingerprint_is_a_sha256_hex_digest_and_stable() -> None:
    when = datetime(2026, 4, 1, tzinfo=UTC)
    first = fingerprint("reserve", {"deadline": when, "credits": 5})
    assert len(first) == 64
    assert int(first, 16) >= 0
    assert fingerprint("reserve", {"credits": 5, "deadline": when}) == first


@pytest.mark.parametrize("key", ["k", "msg-1", "a" * MAX_KEY_LENGTH, "with space", "~!@#$%^&*()"])
def test_valid_keys(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "1 to 200"),
        ("a" * (MAX_KEY_LENGTH + 1), "1 to 200"),
        ("caf\u00e9", "printable ASCII"),
        ("a\nb", "printable ASCII"),
        ("\x00", "printable ASCII"),
        ("tab\there", "printable ASCII"),
        (12, "1 to 200"),
        (None, "1 to 200"),
    ],
)
def test_invalid_keys_are_refused(key: Any, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        check_key(key)
