"""Where idempotency keys are kept: unique in their scope, found by their hash (store/keys.py).

SQLite finds keys by ``key_hash`` and a trigger refuses a second (scope, key); PostgreSQL keeps a
unique index. Either way the database itself refuses a key twice, keys that share a hash are told
apart, and migrating down to 0005 and back up keeps every key findable.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

import postmeter as pm
from postmeter.store import booking, uow
from postmeter.store.migrate import alembic_config, upgrade
from tests.support.databases import Databases
from tests.support.model import table_counts

OP = pm.OPERATOR
COPY_TXN = (
    "INSERT INTO transactions (scope, idem_key, key_hash, fingerprint, operation, root_id, actor,"
    " reason, created_at, result) SELECT :scope, idem_key, key_hash, fingerprint, operation,"
    " root_id, actor, reason, created_at, result FROM transactions WHERE idem_key = :key"
)


@pytest.fixture
def funded(ctx: pm.Context) -> pm.Context:
    pm.create_account(ctx, OP, "open", "acme", "Acme", "ops@acme.test")
    pm.grant(ctx, OP, "fund", "acme", "email", 1_000, reason="opening balance")
    return ctx


def test_the_database_refuses_a_key_twice_in_its_scope(funded: pm.Context) -> None:
    pm.charge(funded, OP, pm.ChargeRequest("send-1", "acme", "email", 5))
    before = table_counts(funded)
    refused = r"UNIQUE constraint|unique constraint"
    with pytest.raises(IntegrityError, match=refused), funded.store.engine.begin() as conn:
        conn.execute(text(COPY_TXN), {"scope": OP.scope, "key": "send-1"})
    assert table_counts(funded) == before
    # The same key in another scope is another key (its hash differs too).
    with funded.store.engine.begin() as conn:
        assert conn.execute(text(COPY_TXN), {"scope": "tree:9", "key": "send-1"}).rowcount == 1


def test_keys_that_share_a_hash_are_told_apart(
    funded: pm.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every key hashing alike, as two keys of 2^64 may: each still finds its own transaction."""
    for module in (booking, uow):
        monkeypatch.setattr(module, "key_hash", lambda _scope, _key: 7)
    one = pm.charge(funded, OP, pm.ChargeRequest("send-1", "acme", "email", 1))
    two = pm.charge(funded, OP, pm.ChargeRequest("send-2", "acme", "email", 2))
    batch = pm.charge_batch(
        funded, OP, [pm.ChargeRequest(f"b-{i}", "acme", "email", 10 + i) for i in range(5)]
    )
    assert [o.charge.credits for o in batch if o.charge] == [10, 11, 12, 13, 14]
    assert (one.txn_id != two.txn_id, two.balance) == (True, 997)

    assert pm.charge(funded, OP, pm.ChargeRequest("send-1", "acme", "email", 1)) == replace(
        one, replayed=True
    )
    assert pm.charge(funded, OP, pm.ChargeRequest("send-2", "acme", "email", 2)) == replace(
        two, replayed=True
    )
    with pytest.raises(pm.IdempotencyConflict):
        pm.charge(funded, OP, pm.ChargeRequest("b-3", "acme", "email", 1))
    again = pm.charge_batch(
        funded, OP, [pm.ChargeRequest(f"b-{i}", "acme", "email", 10 + i) for i in range(5)]
    )
    assert [o.charge.txn_id for o in again if o.charge] == [
        o.charge.txn_id for o in batch if o.charge
    ]
    assert pm.summary(funded, "acme", "email").balance == 997 - 60


def test_verify_names_a_key_whose_hash_is_not_its_own(funded: pm.Context) -> None:
    pm.charge(funded, OP, pm.ChargeRequest("send-1", "acme", "email", 5))
    with funded.store.engine.begin() as conn:
        txn_id = conn.execute(
            text("SELECT id FROM transactions WHERE idem_key = 'send-1'")
        ).scalar_one()
        conn.execute(text("UPDATE transactions SET key_hash = key_hash / 2 WHERE id = :id"),
                     {"id": txn_id})  # fmt: skip
    with pytest.raises(pm.BooksOutOfBalance, match=f"^transaction {txn_id}: key_hash .* 'send-1'"):
        pm.verify(funded)


def test_verify_names_a_key_booked_twice_on_sqlite_without_its_trigger(
    databases: Databases,
) -> None:
    """The trigger is SQLite's only guard: were it gone, verify would say so."""
    ctx = pm.connect(databases.fresh("sqlite"))
    try:
        pm.create_account(ctx, OP, "open", "acme", "Acme", "ops@acme.test")
        with ctx.store.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER transactions_unique_key"))
            conn.execute(text(COPY_TXN), {"scope": OP.scope, "key": "open"})
        with pytest.raises(pm.BooksOutOfBalance, match=r"^key 'open' in scope 'operator': more"):
            pm.verify(ctx)
    finally:
        ctx.store.dispose()


def test_migrating_down_to_0005_and_up_again_keeps_every_key(funded: pm.Context) -> None:
    engine: Engine = funded.store.engine
    first = pm.charge(funded, OP, pm.ChargeRequest("send-1", "acme", "email", 5))
    pm.charge_batch(funded, OP, [pm.ChargeRequest(f"b-{i}", "acme", "email", 1) for i in range(3)])
    before = table_counts(funded)

    command.downgrade(alembic_config(engine), "0005")
    with engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM transactions")).keys()
        conn.rollback()
    assert "key_hash" not in columns
    upgrade(engine)

    assert table_counts(funded) == before
    pm.verify(funded)  # every key_hash filled in again is its key's
    assert pm.charge(funded, OP, pm.ChargeRequest("send-1", "acme", "email", 5)) == replace(
        first, replayed=True
    )
    replays = pm.charge_batch(
        funded, OP, [pm.ChargeRequest(f"b-{i}", "acme", "email", 1) for i in range(3)]
    )
    assert all(o.charge is not None and o.charge.replayed for o in replays)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(COPY_TXN), {"scope": OP.scope, "key": "send-1"})
    assert table_counts(funded) == before
