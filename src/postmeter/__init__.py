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
    Unratable,
)
from postmeter.domain.rates import RateCard, RateCardVersion
from postmeter.service.accounts import (
    Account,
    create_account,
    move_account,
    set_payg,
    set_status,
)
from postmeter.service.campaigns import (
    Campaign,
    cancel_campaign,
    get_campaign,
    list_campaigns,
    schedule_campaign,
    send_campaign,
)
from postmeter.service.catalogue import Package, Plan, create_package, create_plan
from postmeter.service.charging import Charge, ChargeRequest, Outcome, charge, charge_batch
from postmeter.service.context import OPERATOR, Actor, Context
from postmeter.service.grants import correct_down, grant
from postmeter.service.purchases import Purchase, buy
from postmeter.service.rate_cards import (
    EmailRate,
    email_rate,
    export_rates,
    import_rates,
    rate_card,
    rates_in_force,
    set_email_rate,
    set_rates,
)
from postmeter.service.rating import (
    Message,
    PackageSms,
    Priced,
    SendRequest,
    Sent,
    packages_per_country,
    quote,
    send,
)
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
    "Campaign",
    "Charge",
    "ChargeRequest",
    "Clock",
    "Conflict",
    "Context",
    "EmailRate",
    "FixedClock",
    "IdempotencyConflict",
    "InsufficientCredits",
    "InvalidAmount",
    "InvalidInput",
    "InvalidState",
    "Message",
    "NotFound",
    "Outcome",
    "OutsideTree",
    "Package",
    "PackageSms",
    "Plan",
    "PostmeterError",
    "Priced",
    "Purchase",
    "RateCard",
    "RateCardVersion",
    "Refused",
    "ResellerView",
    "Reservation",
    "SeatsExhausted",
    "SendRequest",
    "Sent",
    "Subscription",
    "SystemClock",
    "TickReport",
    "Transfer",
    "TransferRecord",
    "Unratable",
    "VerifyReport",
    "buy",
    "cancel_campaign",
    "capture",
    "charge",
    "charge_batch",
    "connect",
    "correct_down",
    "create_account",
    "create_package",
    "create_plan",
    "create_unit",
    "email_rate",
    "export_rates",
    "format_credits",
    "get_campaign",
    "grant",
    "import_rates",
    "journal",
    "list_campaigns",
    "move_account",
    "packages_per_country",
    "parse_credits",
    "quote",
    "rate_card",
    "rates_in_force",
    "release",
    "reseller_books",
    "reserve",
    "schedule_campaign",
    "send",
    "send_campaign",
    "set_email_rate",
    "set_payg",
    "set_policy",
    "set_rates",
    "set_status",
    "subscribe",
    "summary",
    "take_back",
    "tick",
    "transfer",
    "transfer_history",
    "verify",
]
