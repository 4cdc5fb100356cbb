"""idempotency keys found by a hash of scope and key (SQLite: a smaller index)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 12:00:00

Every transaction gets ``key_hash`` (postmeter.store.keys: never changes). On SQLite the unique
index on (scope, idem_key) gives way to an index on ``key_hash`` and a trigger that refuses a
second (scope, idem_key), as the index did (with the same message, so callers see the same
IntegrityError). PostgreSQL keeps its unique index: its writers run concurrently, and only a
unique index can settle which of two inserts of one key wins.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from postmeter.store.keys import key_hash

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TRIGGER = "transactions_unique_key"
CREATE_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} BEFORE INSERT ON transactions
WHEN EXISTS (
    SELECT 1 FROM transactions
    WHERE key_hash = NEW.key_hash AND scope = NEW.scope AND idem_key = NEW.idem_key
)
BEGIN
    SELECT RAISE(ABORT, 'UNIQUE constraint failed: transactions.scope, transactions.idem_key');
END
"""
CHUNK = 10_000


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch_op:
        batch_op.add_column(sa.Column("key_hash", sa.BigInteger(), nullable=True))
    _fill_key_hashes()
    sqlite = op.get_bind().dialect.name == "sqlite"
    # SQLite copies the table to drop its unique index (env.py turns foreign keys off for that).
    with op.batch_alter_table("transactions", recreate="always" if sqlite else "auto") as batch_op:
        batch_op.alter_column("key_hash", existing_type=sa.BigInteger(), nullable=False)
        if sqlite:
            batch_op.drop_constraint("uq_transactions_scope_idem_key", type_="unique")
            batch_op.create_index("ix_transactions_key_hash", ["key_hash"])
    if sqlite:
        op.execute(CREATE_TRIGGER)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(f"DROP TRIGGER {TRIGGER}")
    with op.batch_alter_table("transactions", recreate="always" if sqlite else "auto") as batch_op:
        if sqlite:
            batch_op.drop_index("ix_transactions_key_hash")
            batch_op.create_unique_constraint(
                "uq_transactions_scope_idem_key", ["scope", "idem_key"]
            )
        batch_op.drop_column("key_hash")


def _fill_key_hashes() -> None:
    """Hash the keys already there, a chunk at a time, in id order."""
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, scope, idem_key FROM transactions WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": CHUNK},
        ).all()
        if not rows:
            return
        conn.execute(
            sa.text("UPDATE transactions SET key_hash = :h WHERE id = :id"),
            [{"h": key_hash(scope, key), "id": txn_id} for txn_id, scope, key in rows],
        )
        last = rows[-1][0]
