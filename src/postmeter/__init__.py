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
    OutsideTree,
    PostmeterError,
    Refused,
    SeatsExhausted,
)
from postmeter.service.accounts import (
    Account,
    create_account,
    move_account,
    set_payg,
    set_status,
)
from postmeter.service.catalogue import Package, Plan, create_package, create_plan
from postmeter.service.charging import Charge, ChargeRequest, Outcome, charge, charge_batch
from postmeter.service.context import OPERATOR, Actor, Context
from postmeter.service.grants import correct_down, grant
from postmeter.service.purchases import Purchase, buy
from postmeter.service.reports import journal, summary
from postmeter.service.resellers import ResellerView, reseller_books
from postmeter.service.reservations import Reservation, capture, release, reserve
from postmeter.service.subscriptions import Subscription, subscribe
from postmeter.service.ticking import TickReport, tick
from postmeter.service.transfers import (
    Transfer,
    TransferRecord,
    take_back,
    transfer,
    transfer_history,
)
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
    "OutsideTree",
    "Package",
    "Plan",
    "PostmeterError",
    "Purchase",
    "Refused",
    "ResellerView",
    "Reservation",
    "SeatsExhausted",
    "Subscription",
    "SystemClock",
    "TickReport",
    "Transfer",
    "TransferRecord",
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
    "move_account",
    "parse_credits",
    "release",
    "reseller_books",
    "reserve",
    "set_payg",
    "set_policy",
    "set_status",
    "subscribe",
    "summary",
    "take_back",
    "tick",
    "transfer",
    "transfer_history",
    "verify",
]
