"""One error tree with stable codes, so the API and CLI can map them."""

from __future__ import annotations

import pytest

from postmeter.domain import errors as e


@pytest.mark.parametrize(
    ("cls", "parent", "code"),
    [
        (e.InvalidInput, e.PostmeterError, "invalid_input"),
        (e.InvalidAmount, e.InvalidInput, "invalid_amount"),
        (e.NotFound, e.PostmeterError, "not_found"),
        (e.Conflict, e.PostmeterError, "conflict"),
        (e.AlreadyExists, e.Conflict, "already_exists"),
        (e.IdempotencyConflict, e.Conflict, "idempotency_key_reused"),
        (e.InvalidState, e.Conflict, "invalid_state"),
        (e.Refused, e.PostmeterError, "refused"),
        (e.InsufficientCredits, e.Refused, "insufficient_credits"),
        (e.AccountInactive, e.Refused, "account_inactive"),
        (e.SenderInactive, e.Refused, "sender_inactive"),
        (e.CapReached, e.Refused, "cap_reached"),
        (e.AssignmentExhausted, e.Refused, "assignment_exhausted"),
        (e.SeatsExhausted, e.Refused, "seats_exhausted"),
        (e.OutsideTree, e.Refused, "outside_tree"),
        (e.Unratable, e.InvalidInput, "unratable"),
        (e.BooksOutOfBalance, e.PostmeterError, "books_out_of_balance"),
    ],
)
def test_the_tree_and_its_codes(cls: type[e.PostmeterError], parent: type, code: str) -> None:
    assert issubclass(cls, parent)
    assert cls.code == code


def test_errors_carry_a_message_and_json_safe_details() -> None:
    error = e.InsufficientCredits("lacks 5", shortfall=5, unit="email")
    assert (str(error), error.message, error.details) == (
        "lacks 5",
        "lacks 5",
        {"shortfall": 5, "unit": "email"},
    )
