"""What the API answers, as pydantic models: they document every success body in the OpenAPI
document (so schemathesis checks our answers against them); amounts are decimal strings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

Amount = str  # a decimal string in the unit's scale, e.g. "12.50"


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountOut(Out):
    ref: str
    name: str
    email: str
    timezone: str
    status: str
    parent: str | None
    created_at: str


class AccountPage(Out):
    items: list[AccountOut]
    next_cursor: str | None


class UnitOut(Out):
    code: str
    name: str
    scale: int
    extend_on_purchase: bool
    signup_credits: Amount
    signup_days: int | None


class UnitList(Out):
    items: list[UnitOut]


class PlanOut(Out):
    code: str
    name: str
    unit: str
    credits: Amount
    period_kind: str
    period_days: int | None
    free: bool
    seats: int
    dedicated_ips: int
    price: str  # a decimal in the currency
    price_minor: int
    currency: str


class PlanList(Out):
    items: list[PlanOut]


class PackageOut(Out):
    code: str
    name: str
    unit: str
    credits: Amount
    validity_months: int
    validity_days: int
    price: str  # a decimal in the currency
    price_minor: int
    currency: str
    active: bool


class PackageList(Out):
    items: list[PackageOut]


class PaygTerms(Out):
    price: str  # a decimal in the currency
    per: Amount  # credits the price buys
    currency: str


class PaygOut(Out):
    account: str
    unit: str
    payg: PaygTerms | None  # null: pay-as-you-go is off


class GrantOut(Out):
    txn_id: int
    account: str
    unit: str
    credits: Amount
    lot_id: int | None
    balance: Amount
    available: Amount


class PurchaseOut(Out):
    txn_id: int
    account: str
    package: str
    unit: str
    credits: Amount
    lot_id: int
    expires_at: str
    price: str  # a decimal in the currency
    price_minor: int
    currency: str
    extended_lots: list[int]


class SubscriptionOut(Out):
    id: int
    account: str
    plan: str
    started_at: str
    anchor_day: int | None
    period_index: int
    period_start_at: str
    next_renewal_at: str
    status: str


class SubscriptionList(Out):
    items: list[SubscriptionOut]


class DrawnOut(Out):
    lot_id: int
    credits: Amount


class ChargeOut(Out):
    txn_id: int
    account: str
    unit: str
    credits: Amount
    drawn: list[DrawnOut]
    overage: Amount
    balance: Amount
    available: Amount


class BatchItemOut(Out):
    ok: bool
    charge: ChargeOut | None = None
    status: int | None = None
    problem: dict[str, Any] | None = None


class BatchOut(Out):
    booked: int
    failed: int
    items: list[BatchItemOut]


class ReservationOut(Out):
    id: int
    account: str
    unit: str
    credits: Amount
    held: Amount
    status: str
    deadline_at: str
    captured: Amount | None
    available: Amount


class LotOut(Out):
    id: int
    source: str
    priority: int
    amount: Amount
    remaining: Amount
    held: Amount
    expires_at: str | None
    created_at: str
    package: str | None


class PeriodOut(Out):
    plan: str
    credits: Amount
    left: Amount
    started_at: str
    next_reset_at: str


class SummaryOut(Out):
    account: str
    unit: str
    balance: Amount
    reserved: Amount
    assigned: Amount
    available: Amount
    overage: Amount
    lots: list[LotOut]
    periods: list[PeriodOut]


class EntryOut(Out):
    seq: int
    txn_id: int
    at: str
    account: str
    unit: str
    lot_id: int | None
    kind: str
    delta: Amount
    held_delta: Amount
    balance_after: Amount
    counterparty: str
    actor: str
    reason: str | None
    key: str


class JournalPage(Out):
    items: list[EntryOut]
    next_cursor: str | None


class KeyOut(Out):
    prefix: str
    name: str
    role: str
    account: str | None
    read_only: bool
    created_at: str
    revoked_at: str | None


class NewKeyOut(KeyOut):
    secret: str | None  # the whole key, shown once (null on a replay)


class KeyList(Out):
    items: list[KeyOut]


class TickOut(Out):
    renewals: int
    expiries: int
    expired: dict[str, Amount]  # credits expired, by unit
    timeouts: int
    events: list[str]


class VerifyOut(Out):
    ok: bool
    accounts: int
    lots: int
    entries: int


def answers(status: int, model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI ``responses`` entry documenting a success body sent as a raw Response."""
    return {status: {"model": model, "description": model.__doc__ or model.__name__}}
