"""The schema, as SQLAlchemy Core tables; alembic migrations create exactly this.

Every table that belongs to a customer carries ``root_id``, the id of the top-level account of its
tree, so the schema can be distributed by it (docs/scaling.md). Amounts are 64-bit integers of the
unit's smallest step; instants are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases (SQLite keeps no zone, so we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Amount = BigInteger

units = Table(
    "units",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("scale", Integer, nullable=False),
    # Operator policy: buying a package extends the expiry of the account's live package lots.
    Column("extend_on_purchase", Boolean, nullable=False, server_default=text("false")),
    # Operator policy: free credits every new account receives (Mailpro's 500), 0 for none.
    Column("signup_credits", Amount, nullable=False, server_default=text("0")),
    Column("signup_days", Integer, nullable=True),  # how long they last; NULL: never expire
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(64), nullable=False, unique=True),
    Column("root_id", Integer, nullable=True, index=True),  # NULL only while being inserted
    Column("parent_id", Integer, ForeignKey("accounts.id"), nullable=True, index=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per account and unit: the cached totals, and the lock that serialises that account's
# changes (SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE locks the whole file).
balances = Table(
    "balances",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("unit", String(32), ForeignKey("units.code"), primary_key=True),
    Column("root_id", Integer, nullable=False),
    Column("balance", Amount, nullable=False),
    Column("reserved", Amount, nullable=False),
    Column("assigned", Amount, nullable=False),
    # Pay-as-you-go: when set, a shortfall is billed at price_minor per price_per credits.
    Column("payg_price_minor", Amount, nullable=True),
    Column("payg_price_per", Amount, nullable=True),
    Column("payg_currency", String(3), nullable=True),
    # Credits per recipient of a send rated by recipients (e-mail) for this account; NULL: its
    # plan's rate, else one credit.
    Column("email_rate", Amount, nullable=True),
    CheckConstraint("balance >= 0 AND reserved >= 0 AND assigned >= 0", name="ck_balances_sign"),
)

lots = Table(
    "lots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("unit", String(32), ForeignKey("units.code"), nullable=False),
    Column("root_id", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("amount", Amount, nullable=False),
    Column("remaining", Amount, nullable=False),
    Column("held", Amount, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("txn_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    Column("subscription_id", Integer, nullable=True),
    Column("period_index", Integer, nullable=True),
    Column("package_code", String(64), nullable=True),
    # The database itself refuses a lot below zero or holding more than it has.
    CheckConstraint("remaining >= 0 AND held >= 0 AND held <= remaining", name="ck_lots_amounts"),
    # Only lots with something left are ever drawn or expired: keep the indexes to those.
    Index(
        "ix_lots_live",
        "account_id",
        "unit",
        sqlite_where=text("remaining > 0"),
        postgresql_where=text("remaining > 0"),
    ),
    Index(
        "ix_lots_expiry",
        "expires_at",
        sqlite_where=text("remaining > 0"),
        postgresql_where=text("remaining > 0"),
    ),
)

# The conditions of the partial indexes, as literals: a bound parameter in their place would keep
# the planners from using the indexes (and SQLite re-prepares such statements on every run).
LIVE_LOT = lots.c.remaining > literal_column("0")

# One row per change to the books (and per other change worth replaying): the idempotency record.
# Keys are unique in their scope. PostgreSQL says so with a unique index on (scope, idem_key), as
# its concurrent writers need. SQLite finds keys by ``key_hash`` (store/keys.py: a third of the
# index to write) and a trigger refuses a second (scope, idem_key) as a unique index would
# (migration 0006); its writers queue on the file lock, so the trigger's check cannot race.
transactions = Table(
    "transactions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("scope", String(80), nullable=False),
    Column("idem_key", String(200), nullable=False),
    Column("key_hash", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("operation", String(40), nullable=False),
    Column("root_id", Integer, nullable=True),
    Column("actor", String(120), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("result", Text, nullable=False),
    UniqueConstraint("scope", "idem_key").ddl_if(dialect="postgresql"),
    Index("ix_transactions_key_hash", "key_hash").ddl_if(dialect="sqlite"),
)

# The journal: append-only, one entry per lot touched. ``delta`` moves the lot's remaining (and
# so the balance), ``held_delta`` its reserved part; ``counterparty`` says where credits came from
# or went: issuance, usage, breakage, or another account (account:<id>).
entries = Table(
    "entries",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    # No foreign key on txn_id: the booking inserts an entry's transaction in the same statement,
    # a per-row trigger would cost a quarter of PostgreSQL's batch rate, and verify checks it.
    Column("txn_id", BigInteger, nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("root_id", Integer, nullable=False),
    Column("lot_id", Integer, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("delta", Amount, nullable=False),
    Column("held_delta", Amount, nullable=False),
    Column("balance_after", Amount, nullable=False),
    Column("counterparty", String(40), nullable=False),
    Column("sender_id", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_entries_account_unit_seq", "account_id", "unit", "seq"),
)

plans = Table(
    "plans",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("unit", String(32), ForeignKey("units.code"), nullable=False),
    Column("credits", Amount, nullable=False),
    Column("period_kind", String(16), nullable=False),
    Column("period_days", Integer, nullable=True),
    # A free allowance grants FREE lots (drawn first) instead of plan lots.
    Column("free", Boolean, nullable=False),
    Column("seats", Integer, nullable=False),
    Column("dedicated_ips", Integer, nullable=False),
    Column("price_minor", Amount, nullable=False),
    Column("currency", String(3), nullable=False),
    # Credits per recipient of a send rated by recipients, for its subscribers; NULL: one credit.
    Column("email_rate", Amount, nullable=True),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("root_id", Integer, nullable=False),
    Column("plan_code", String(64), ForeignKey("plans.code"), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("anchor_day", Integer, nullable=True),
    Column("next_index", Integer, nullable=False),  # the next period to grant
    Column("next_renewal_at", UTCDateTime, nullable=False, index=True),
    Column("status", String(16), nullable=False),
)

packages = Table(
    "packages",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("unit", String(32), ForeignKey("units.code"), nullable=False),
    Column("credits", Amount, nullable=False),
    Column("validity_months", Integer, nullable=False),
    Column("validity_days", Integer, nullable=False),
    Column("price_minor", Amount, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("active", Boolean, nullable=False),
)

purchases = Table(
    "purchases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("txn_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("root_id", Integer, nullable=False),
    Column("package_code", String(64), ForeignKey("packages.code"), nullable=False),
    Column("lot_id", Integer, ForeignKey("lots.id"), nullable=False),
    Column("price_minor", Amount, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("unit", String(32), nullable=False),
    Column("root_id", Integer, nullable=False),
    Column("credits", Amount, nullable=False),
    Column("status", String(16), nullable=False),  # held, captured, released, timed_out
    Column("deadline_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("captured", Amount, nullable=True),
    Column("txn_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    Column("sender_id", Integer, nullable=True),  # the sender whose cap or assignment it holds
    Index(
        "ix_reservations_open_deadline",
        "deadline_at",
        sqlite_where=text("status = 'held'"),
        postgresql_where=text("status = 'held'"),
    ),
)

# What a reservation holds on each lot, in the order it drew them.
holds = Table(
    "holds",
    metadata,
    Column("reservation_id", Integer, ForeignKey("reservations.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("lot_id", Integer, ForeignKey("lots.id"), nullable=False),
    Column("credits", Amount, nullable=False),
    Column("root_id", Integer, nullable=False),
)

overages = Table(
    "overages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("txn_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("unit", String(32), nullable=False),
    Column("root_id", Integer, nullable=False),
    Column("credits", Amount, nullable=False),
    Column("price_minor", Amount, nullable=False),
    Column("price_per", Amount, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Senders: an e-mail domain or an SMS list inside an account, sharing its credits of one unit by
# free access, a cap per period, or an assignment (credits set aside for it alone).
senders = Table(
    "senders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("root_id", Integer, nullable=False),
    Column("unit", String(32), ForeignKey("units.code"), nullable=False),
    Column("name", String(253), nullable=False),
    Column("kind", String(8), nullable=False),  # domain, list
    Column("mode", String(16), nullable=False),  # free_access, cap, assignment
    Column("cap", Amount, nullable=True),
    Column("cap_used", Amount, nullable=False),  # spent and held since cap_since
    Column("cap_since", UTCDateTime, nullable=True),  # the start of the period cap_used counts
    Column("assigned", Amount, nullable=False),  # what is left of its assignment
    Column("status", String(16), nullable=False),  # active, suspended, blocked
    Column("unblock_requested", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "name"),
    CheckConstraint(
        "cap_used >= 0 AND assigned >= 0 AND (cap IS NULL OR cap >= 0)", name="ck_senders_amounts"
    ),
)

# Every status change of a sender: who (role and actor), why, from what to what.
sender_events = Table(
    "sender_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", Integer, ForeignKey("senders.id"), nullable=False, index=True),
    Column("txn_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    Column("action", String(24), nullable=False),
    Column("role", String(16), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("reason", Text, nullable=True),
    Column("before", String(16), nullable=False),
    Column("after", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# What became of a sender's messages, day by day, as the sending platform reports it: the input
# of the rates a dedicated-IP request records (and of reputation).
sender_outcomes = Table(
    "sender_outcomes",
    metadata,
    Column("sender_id", Integer, ForeignKey("senders.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("sent", Amount, nullable=False),
    Column("delivered", Amount, nullable=False),
    Column("hard_bounced", Amount, nullable=False),
    Column("complained", Amount, nullable=False),
    CheckConstraint(
        "delivered >= 0 AND hard_bounced >= 0 AND complained >= 0"
        " AND delivered + hard_bounced <= sent AND complained <= delivered",
        name="ck_sender_outcomes_counts",
    ),
)

# A request for a dedicated IP, with the sender's figures frozen when it was made.
ip_requests = Table(
    "ip_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", Integer, ForeignKey("senders.id"), nullable=False, index=True),
    Column("root_id", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # pending, approved, refused
    Column("volume_30d", Amount, nullable=False),
    Column("sent_7d", Amount, nullable=False),
    Column("delivered_7d", Amount, nullable=False),
    Column("hard_bounced_7d", Amount, nullable=False),
    Column("complained_7d", Amount, nullable=False),
    Column("asked_by", String(80), nullable=False),
    Column("asked_at", UTCDateTime, nullable=False),
    Column("decided_by", String(80), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=True),
)

# Credits a parent moved to a child (positive) or took back (negative): the transfer history.
transfers = Table(
    "transfers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("txn_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    Column("parent_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("child_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("root_id", Integer, nullable=False),
    Column("unit", String(32), ForeignKey("units.code"), nullable=False),
    Column("credits", Amount, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# API keys: the secret is shown once and only its hash is kept. ``account_id`` NULL means an
# operator key; otherwise the key sees that account and the accounts below it.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # operator, account
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("root_id", Integer, nullable=True),
    Column("read_only", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# What the HTTP API answered to a request that changed (or tried to change) the books, so that a
# replay of its Idempotency-Key gets the very same status and body, refusals included.
http_replies = Table(
    "http_replies",
    metadata,
    Column("scope", String(80), primary_key=True),
    Column("idem_key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Rate cards: a unit's credits per SMS part to each country, in versions that take effect at
# ``effective_from`` (never in the past: what was charged stays priced as it was).
rate_cards = Table(
    "rate_cards",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("unit", String(32), ForeignKey("units.code"), nullable=False),
    Column("effective_from", UTCDateTime, nullable=False),
    Column("default_rate", Amount, nullable=True),  # for the countries not listed; NULL: none
    Column("created_at", UTCDateTime, nullable=False),
    Column("txn_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    UniqueConstraint("unit", "effective_from"),
    CheckConstraint("default_rate IS NULL OR default_rate > 0", name="ck_rate_cards_default"),
)

rates = Table(
    "rates",
    metadata,
    Column("card_id", Integer, ForeignKey("rate_cards.id"), primary_key=True),
    Column("country", String(2), primary_key=True),  # ISO 3166-1 alpha-2, as phonenumbers
    Column("credits", Amount, nullable=False),  # per SMS part
    CheckConstraint("credits > 0", name="ck_rates_credits"),
)

# A scheduled send: what is needed to price it again when it goes out, beside the reservation
# that holds its quoted cost (the campaign's id is its reservation's; its status is the
# reservation's: held, captured, released, timed_out).
campaigns = Table(
    "campaigns",
    metadata,
    Column("reservation_id", Integer, ForeignKey("reservations.id"), primary_key=True),
    Column("root_id", Integer, nullable=False),
    Column("text", Text, nullable=True),  # an SMS: its text, to ``numbers``
    Column("numbers", Text, nullable=True),  # a JSON array of the numbers as given
    Column("recipients", Amount, nullable=True),  # an e-mail: how many recipients
    Column("default_region", String(2), nullable=True),
    Column("partial", Boolean, nullable=False),
    Column("reference", String(200), nullable=True),
    Column("quote", Text, nullable=False),  # JSON: the price when it was scheduled
    Column("created_at", UTCDateTime, nullable=False),
    Column("txn_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    # The price when it was sent (by the card in force then), the amount captured.
    Column("sent_quote", Text, nullable=True),
    Column("priced_at", UTCDateTime, nullable=True),
)

OPEN_RESERVATION = reservations.c.status == literal_column("'held'")
