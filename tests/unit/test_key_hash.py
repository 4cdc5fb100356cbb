"""The hash that finds an idempotency key (store/keys.py). It is stored with every transaction,
so it must never change: a changed hash would lose every key booked before it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from postmeter.store.keys import key_hash


def test_the_hash_is_the_one_stored_by_earlier_versions() -> None:
    assert key_hash("operator", "send-1") == -2931767255223992142
    assert key_hash("tree:12", "550e8400-e29b-41d4-a716-446655440000") == -6091359777428736582


def test_a_key_in_another_scope_is_another_key() -> None:
    assert key_hash("operator", "k") != key_hash("tree:1", "k")
    # Scope and key never run together: ("ab", "c") is not ("a", "bc").
    assert key_hash("ab", "c") != key_hash("a", "bc")
    assert key_hash("1:a", "b") != key_hash("1", ":ab")


@given(st.text(max_size=80), st.text(max_size=200))
def test_the_hash_fits_a_signed_64_bit_column(scope: str, key: str) -> None:
    h = key_hash(scope, key)
    assert -(2**63) <= h < 2**63
    assert h == key_hash(scope, key)
