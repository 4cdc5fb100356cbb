"""sender outcomes and ip requests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 06:49:10.774567
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import postmeter.store.tables


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ip_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("volume_30d", sa.BigInteger(), nullable=False),
        sa.Column("sent_7d", sa.BigInteger(), nullable=False),
        sa.Column("delivered_7d", sa.BigInteger(), nullable=False),
        sa.Column("hard_bounced_7d", sa.BigInteger(), nullable=False),
        sa.Column("complained_7d", sa.BigInteger(), nullable=False),
        sa.Column("asked_by", sa.String(length=80), nullable=False),
        sa.Column("asked_at", postmeter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", postmeter.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["senders.id"], name=op.f("fk_ip_requests_sender_id_senders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_requests")),
    )
    with op.batch_alter_table("ip_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ip_requests_sender_id"), ["sender_id"], unique=False)

    op.create_table(
        "sender_outcomes",
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.BigInteger(), nullable=False),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.Column("hard_bounced", sa.BigInteger(), nullable=False),
        sa.Column("complained", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "delivered >= 0 AND hard_bounced >= 0 AND complained >= 0"
            " AND delivered + hard_bounced <= sent AND complained <= delivered",
            name="ck_sender_outcomes_counts",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["senders.id"], name=op.f("fk_sender_outcomes_sender_id_senders")
        ),
        sa.PrimaryKeyConstraint("sender_id", "day", name=op.f("pk_sender_outcomes")),
    )


def downgrade() -> None:
    op.drop_table("sender_outcomes")
    with op.batch_alter_table("ip_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ip_requests_sender_id"))

    op.drop_table("ip_requests")
