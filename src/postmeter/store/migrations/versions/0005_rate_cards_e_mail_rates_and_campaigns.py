"""rate cards, e-mail rates and campaigns

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 07:06:58.652028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import postmeter.store.tables


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column(
            "effective_from", postmeter.store.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("default_rate", sa.BigInteger(), nullable=True),
        sa.Column("created_at", postmeter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("txn_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "default_rate IS NULL OR default_rate > 0", name="ck_rate_cards_default"
        ),
        sa.ForeignKeyConstraint(
            ["txn_id"], ["transactions.id"], name=op.f("fk_rate_cards_txn_id_transactions")
        ),
        sa.ForeignKeyConstraint(["unit"], ["units.code"], name=op.f("fk_rate_cards_unit_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_cards")),
        sa.UniqueConstraint(
            "unit", "effective_from", name=op.f("uq_rate_cards_unit_effective_from")
        ),
    )
    op.create_table(
        "campaigns",
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("numbers", sa.Text(), nullable=True),
        sa.Column("recipients", sa.BigInteger(), nullable=True),
        sa.Column("default_region", sa.String(length=2), nullable=True),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("created_at", postmeter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("txn_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_quote", sa.Text(), nullable=True),
        sa.Column("priced_at", postmeter.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_campaigns_reservation_id_reservations"),
        ),
        sa.ForeignKeyConstraint(
            ["txn_id"], ["transactions.id"], name=op.f("fk_campaigns_txn_id_transactions")
        ),
        sa.PrimaryKeyConstraint("reservation_id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "rates",
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("credits > 0", name="ck_rates_credits"),
        sa.ForeignKeyConstraint(
            ["card_id"], ["rate_cards.id"], name=op.f("fk_rates_card_id_rate_cards")
        ),
        sa.PrimaryKeyConstraint("card_id", "country", name=op.f("pk_rates")),
    )
    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_rate", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_rate", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("email_rate")

    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.drop_column("email_rate")

    op.drop_table("rates")
    op.drop_table("campaigns")
    op.drop_table("rate_cards")
