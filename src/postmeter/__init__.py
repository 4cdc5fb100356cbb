"""postmeter: prepaid credits, quotas and allocations for e-mail and SMS sending platforms.

>>> ctx = postmeter.connect("sqlite:///books.db")
>>> postmeter.charge(ctx, OPERATOR, ChargeRequest("msg-1", "acme", "email", 250))
"""

from postmeter.bootstrap import connect
from postmeter.domain.amounts import format_credits, parse_credits
from postmeter.domain.clock import Clock, FixedClock, SystemClock
from postmeter.domain.errors import (
    AccountInactive,
    AlreadyExists,
    BooksOutOfBalance,
    Conflict,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    NotFound,
    PostmeterError,
    Refused,
)
from postmeter.service.accounts import Account, create_account, set_payg, set_status
from postmeter.service.catalogue import Package, Plan, create_package, create_plan
from postmeter.service.charging import Charge, ChargeRequest, Outcome, charge, charge_batch
from postmeter.service.context import OPERATOR, Actor, Context
from postmeter.service.grants import correct_down, grant
from postmeter.service.purchases import Purchase, buy
from postmeter.service.reports import journal, summary
from postmeter.service.reservations import Reservation, capture, release, reserve
from postmeter.service.subscriptions import Subscription, subscribe
from postmeter.service.ticking import TickReport, tick
from postmeter.service.units import create_unit, set_policy
from postmeter.service.verify import VerifyReport, verify

__all__ = [
    "OPERATOR",
    "Account",
    "AccountInactive",
    "Actor",
    "AlreadyExists",
    "BooksOutOfBalance",
    "Charge",
    "ChargeRequest",
    "Clock",
    "Conflict",
    "Context",
    "FixedClock",
    "IdempotencyConflict",
    "InsufficientCredits",
    "InvalidAmount",
    "InvalidInput",
    "InvalidState",
    "NotFound",
    "Outcome",
    "Package",
    "Plan",
    "PostmeterError",
    "Purchase",
    "Refused",
    "Reservation",
    "Subscription",
    "SystemClock",
    "TickReport",
    "VerifyReport",
    "buy",
    "capture",
    "charge",
    "charge_batch",
    "connect",
    "correct_down",
    "create_account",
    "create_package",
    "create_plan",
    "create_unit",
    "format_credits",
    "grant",
    "journal",
    "parse_credits",
    "release",
    "reserve",
    "set_payg",
    "set_policy",
    "set_status",
    "subscribe",
    "summary",
    "tick",
    "verify",
]
