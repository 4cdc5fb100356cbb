"""Every error postmeter raises on purpose, each with a stable ``code``.

The tree::

    PostmeterError
    ├── InvalidInput            invalid_input: a value is malformed or out of range
    │   ├── InvalidAmount       invalid_amount: not a positive integer of the unit's steps
    │   └── Unratable           unratable: recipients that cannot be priced, each listed
    ├── NotFound                not_found: no such account, unit, lot, plan, package, reservation
    ├── Conflict                conflict: the request clashes with what is stored
    │   ├── AlreadyExists       already_exists: a name or reference is taken
    │   ├── IdempotencyConflict idempotency_key_reused: same key, another request
    │   └── InvalidState        invalid_state: e.g. capturing a released reservation
    ├── Refused                 refused: a business rule says no
    │   ├── InsufficientCredits insufficient_credits: carries the shortfall
    │   ├── AccountInactive     account_inactive: the account or one above it is not active
    │   ├── SenderInactive      sender_inactive: the sender is suspended or blocked
    │   ├── CapReached          cap_reached: the sender's cap for this period has no room
    │   ├── AssignmentExhausted assignment_exhausted: the sender's assignment has no room
    │   ├── SeatsExhausted      seats_exhausted: the reseller's plan allows no more children
    │   └── OutsideTree         outside_tree: credits never move between different trees
    └── BooksOutOfBalance       books_out_of_balance: ``verify`` found a discrepancy

The API maps the classes to HTTP statuses and the CLI to exit codes; the codes never change.
"""

from __future__ import annotations

from typing import Any


class PostmeterError(Exception):
    """Base of every deliberate error; ``code`` is stable, ``details`` is JSON-safe."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(PostmeterError):
    code = "invalid_input"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class NotFound(PostmeterError):
    code = "not_found"


class Conflict(PostmeterError):
    code = "conflict"


class AlreadyExists(Conflict):
    code = "already_exists"


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"


class InvalidState(Conflict):
    code = "invalid_state"


class Refused(PostmeterError):
    code = "refused"


class InsufficientCredits(Refused):
    code = "insufficient_credits"


class AccountInactive(Refused):
    code = "account_inactive"


class SenderInactive(Refused):
    code = "sender_inactive"


class CapReached(Refused):
    code = "cap_reached"


class AssignmentExhausted(Refused):
    code = "assignment_exhausted"


class SeatsExhausted(Refused):
    code = "seats_exhausted"


class OutsideTree(Refused):
    code = "outside_tree"


class Unratable(InvalidInput):
    """Recipients that cannot be priced: ``details["recipients"]`` lists each with its reason."""

    code = "unratable"


class BooksOutOfBalance(PostmeterError):
    code = "books_out_of_balance"
