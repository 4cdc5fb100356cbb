"""The unit of work: one database transaction, and the statements the services run inside it.

Services open ``store.write()`` for every change (one transaction, committed on success, rolled
back on any exception) and ``store.read()`` for reports. Balance rows are locked in a fixed order
(account id, then unit) so that two transactions touching the same accounts never deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Engine

from postmeter.domain.books import Balance, Posting
from postmeter.domain.errors import NotFound
from postmeter.domain.lots import Lot
from postmeter.store import booking
from postmeter.store import tables as t
from postmeter.store.engine import READ_ONLY
from postmeter.store.keys import key_hash


class Store:
    """The database behind postmeter: hands out units of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self.engine.begin() as conn:
            yield Tx(conn, self.dialect)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn, conn.begin():
            yield Tx(conn, self.dialect)

    def dispose(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True, slots=True)
class StoredTxn:
    id: int
    fingerprint: str
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChargeLoad:
    prior: StoredTxn | None
    account: Any  # a row with the account's columns (id, ref, root_id, parent_id, status)
    balance: Balance
    lots: list[Lot]


class Tx:
    """The statements of one transaction. Amount arithmetic stays in the services and domain."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    # -- idempotency and transactions -------------------------------------------------------

    def find_txns(self, scope: str, keys: Sequence[str]) -> dict[str, StoredTxn]:
        """The transactions already booked under any of ``keys``."""
        found: dict[str, StoredTxn] = {}
        if self.dialect == "postgresql":
            # One JSON parameter: psycopg would send a thousand-key IN list as a thousand
            # parameters, and dumps a text array element by element.
            rows: Any = self.conn.exec_driver_sql(
                "SELECT idem_key, id, fingerprint, result FROM transactions WHERE scope = %s "
                "AND idem_key IN (SELECT json_array_elements_text(%s::json))",
                (scope, json.dumps(list(keys))),
            )
            chunks: list[Any] = [rows]
        else:
            # By the keys' hashes (store/keys.py); a hash shared with another key is told apart
            # by the key itself. 500 a statement: SQLite before 3.32 took at most 999 parameters.
            chunks = [
                self.conn.execute(
                    _FIND_TXNS, {"scope": scope, "hashes": [key_hash(scope, k) for k in chunk]}
                )
                for chunk in _chunks(list(keys), 500)
            ]
        wanted = set(keys)
        for rows in chunks:
            for key, txn_id, fp, result in rows:
                if key in wanted:
                    found[key] = StoredTxn(txn_id, fp, json.loads(result))
        return found

    def insert_txn(self, row: dict[str, Any]) -> int:
        """Insert one transaction row (``result`` as a dict) and return its id."""
        params = {
            **row,
            "key_hash": key_hash(row["scope"], row["idem_key"]),
            "result": json.dumps(row["result"], separators=(",", ":")),
        }
        return int(self.conn.execute(_INSERT_TXN, params).scalar_one())

    def set_txn_result(self, txn_id: int, result: dict[str, Any]) -> None:
        self.conn.execute(
            update(t.transactions)
            .where(t.transactions.c.id == txn_id)
            .values(result=json.dumps(result, separators=(",", ":")))
        )

    # -- accounts -----------------------------------------------------------------------------

    def account_by_ref(self, ref: str) -> Row[Any] | None:
        return self.conn.execute(_ACCOUNT_BY_REF, {"ref": ref}).first()

    def account_by_id(self, account_id: int) -> Row[Any] | None:
        return self.conn.execute(_ACCOUNT_BY_ID, {"id": account_id}).first()

    def ancestors(self, account: Row[Any]) -> list[Row[Any]]:
        """The accounts above ``account``, nearest first."""
        chain: list[Row[Any]] = []
        parent_id = account.parent_id
        while parent_id is not None:
            parent = self.account_by_id(parent_id)
            assert parent is not None, "accounts.parent_id has a foreign key"
            chain.append(parent)
            parent_id = parent.parent_id
        return chain

    # -- balances and lots: the hot path --------------------------------------------------------

    def lock_balances(self, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Balance]:
        """Lock and read the balance rows of ``keys``, creating missing ones, in a fixed order."""
        wanted = sorted(set(keys))
        found: dict[tuple[int, str], Balance] = {}
        for account_id, unit in wanted:
            row = self._select_balance(account_id, unit)
            if row is None:
                self._insert_balance(account_id, unit)
                row = self._select_balance(account_id, unit)
                assert row is not None
            found[(account_id, unit)] = _balance(row)
        return found

    def read_balance(self, account_id: int, unit: str) -> Balance | None:
        row = self.conn.execute(_BALANCE, {"account_id": account_id, "unit": unit}).first()
        return None if row is None else _balance(row)

    def _select_balance(self, account_id: int, unit: str) -> Row[Any] | None:
        query = _BALANCE_FOR_UPDATE if self.dialect == "postgresql" else _BALANCE
        return self.conn.execute(query, {"account_id": account_id, "unit": unit}).first()

    def _insert_balance(self, account_id: int, unit: str) -> None:
        if self.conn.execute(_UNIT_EXISTS, {"code": unit}).first() is None:
            raise NotFound(f"no unit {unit!r}", unit=unit)
        account = self.account_by_id(account_id)
        assert account is not None
        stmt = _insert_ignore(self.dialect, t.balances).values(
            account_id=account_id,
            unit=unit,
            root_id=account.root_id,
            balance=0,
            reserved=0,
            assigned=0,
        )
        self.conn.execute(stmt)

    def load_charge(self, scope: str, key: str, ref: str, unit: str) -> ChargeLoad | None:
        """Everything one charge reads, in one round trip: the key's earlier transaction, the
        account, its locked balance row and its lots. None when the account or its balance row
        does not exist yet (the caller then takes the general path)."""
        params: dict[str, str | int] = {
            "scope": scope,
            "key": key,
            "key_hash": key_hash(scope, key),
            "ref": ref,
            "unit": unit,
        }
        if self.dialect == "postgresql":
            rows: Sequence[Any] = self._pg_load(params)
        else:
            rows = self._sqlite_load(params)
        if not rows:
            return None
        first = rows[0]
        prior = None
        if first.txn_id is not None:
            prior = StoredTxn(first.txn_id, first.fingerprint, json.loads(first.result))
        return ChargeLoad(
            prior=prior,
            account=first,
            balance=_balance(first),
            lots=[
                Lot(r.lot_id, r.source, r.priority, r.expires_at, r.created_at, r.remaining, r.held)
                for r in rows
                if r.lot_id is not None
            ],
        )

    def load_books(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ChargeLoad]:
        """The accounts, balance rows (locked) and live lots of many ``(account ref, unit)``
        pairs, in a round trip or two whatever their number: a batch over many accounts would
        otherwise read each on its own. A pair whose account or balance row does not exist yet
        is left out (the caller takes the general path for it)."""
        wanted = [{"ref": ref, "unit": unit} for ref, unit in sorted(set(pairs))]
        if not wanted:
            return {}
        params = {"pairs": [(p["ref"], p["unit"]) for p in wanted]}
        if self.dialect == "postgresql":
            # Locked first, in the order every transaction locks balance rows (account id,
            # unit), then read: the read's snapshot then follows the locks (see _pg_load).
            self.conn.execute(_LOCK_BOOKS, params).all()
        loads: dict[tuple[str, str], ChargeLoad] = {}
        for row in self.conn.execute(_BOOKS_LOAD, params):
            pair = (row.ref, row.unit)
            load = loads.get(pair)
            if load is None:
                load = loads[pair] = ChargeLoad(None, row, _balance(row), [])
            if row.lot_id is not None:
                load.lots.append(
                    Lot(row.lot_id, row.source, row.priority, row.expires_at, row.created_at,
                        row.remaining, row.held)
                )  # fmt: skip
        return loads

    def _pg_load(self, params: dict[str, str | int]) -> list[Any]:
        """The charge's read on the driver's own cursor (SQLAlchemy's execution costs more than
        the statement): one statement that locks the balance row and reads everything.

        That statement reads the lots from the snapshot it took before it locked the row. When
        another transaction changed the row after that snapshot (the charge queued behind it),
        READ COMMITTED re-reads the locked row but not the lots, which may then be as they were
        before that change. Every change to an account's lots also updates its balance row, so
        the statement tells that case apart: the locked row's version (``xmin``) is not the one
        its snapshot saw. Only then are the lots read again, in a second statement."""
        driver = self.conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            cursor.execute(_pg_sql(_CHARGE_LOAD_LOCKING), params)
            rows = cursor.fetchall()
            if rows and not rows[0][_FRESH]:
                cursor.execute(_pg_sql(_CHARGE_LOAD), params)
                rows = cursor.fetchall()
            # The names from the statement: psycopg builds its description in Python.
            return [_Record(_CHARGE_LOAD_NAMES, row[: len(_CHARGE_LOAD_NAMES)]) for row in rows]

    def _sqlite_load(self, params: dict[str, str | int]) -> list[Any]:
        """The charge's read on the driver's own cursor: SQLAlchemy's execution costs more than
        the query itself, on the path where a lone charge's time is counted."""
        driver = self.conn.connection.driver_connection
        assert driver is not None
        cursor = driver.execute(_sqlite_sql(_CHARGE_LOAD), params)
        names = [column[0] for column in cursor.description]
        instants = [i for i, name in enumerate(names) if name in _INSTANT_COLUMNS]
        return [_Record(names, _sqlite_row(row, instants)) for row in cursor.fetchall()]

    def live_lots(self, account_id: int, unit: str) -> list[Lot]:
        """Every lot of the account and unit with something remaining (expired or not)."""
        rows = self.conn.execute(_LIVE_LOTS, {"account_id": account_id, "unit": unit})
        return [Lot(*row) for row in rows]

    def insert_lot(self, values: dict[str, Any]) -> int:
        lot_id = self.conn.execute(
            insert(t.lots).returning(t.lots.c.id), {"held": 0, "remaining": 0, **values}
        ).scalar_one()
        return int(lot_id)

    def post(
        self,
        balance: Balance,
        txn_id: int,
        postings: Sequence[Posting],
        now: datetime,
        sender_id: int | None = None,
    ) -> None:
        """Apply ``postings`` of one transaction to lots, journal and the (locked) balance row."""
        self.post_many(balance, [(txn_id, postings, sender_id)], now)

    def post_many(
        self,
        balance: Balance,
        batches: Sequence[tuple[int, Sequence[Posting], int | None]],
        now: datetime,
    ) -> None:
        """Apply several transactions' postings on one account and unit, in order: lots change
        by their net delta, the journal gets one entry per posting with the balance after it."""
        step = booking.Booking()
        for txn_id, postings, sender_id in batches:
            step.post(balance, txn_id, postings, now, sender_id)
        self.write(step)

    def write(self, step: booking.Booking, *, last: bool = False) -> dict[str, int]:
        """Write a booking; returns the ids of its new transactions by key. ``last``: it is the
        transaction's last statement (PostgreSQL then commits in the same round trip)."""
        if not step.entries and not step.txns:
            return {}
        return booking.write(self.conn, step, last=last)

    def update_senders(self, rows: Sequence[tuple[int, int, datetime, int]]) -> None:
        """Senders' limits after a charge: ``(id, cap_used, cap_since, assigned)``."""
        self.conn.execute(
            update(t.senders)
            .where(t.senders.c.id == bindparam("sender_id"))
            .values(
                cap_used=bindparam("used"),
                cap_since=bindparam("since"),
                assigned=bindparam("left"),
            ),
            [{"sender_id": i, "used": u, "since": s, "left": a} for i, u, s, a in rows],
        )

    def set_lot_expiry(self, lot_ids: Sequence[int], expires_at: datetime) -> None:
        self.conn.execute(
            update(t.lots).where(t.lots.c.id.in_(lot_ids)).values(expires_at=expires_at)
        )

    # -- generic helpers ---------------------------------------------------------------------------

    def insert_row(self, table: Any, values: dict[str, Any]) -> int:
        """Insert one row and return its integer primary key."""
        pk = next(iter(table.primary_key.columns))
        return int(self.conn.execute(insert(table).returning(pk), values).scalar_one())

    def exists(self, table: Any, **where: Any) -> bool:
        cond = and_(*(table.c[k] == v for k, v in where.items()))
        return (
            self.conn.execute(select(func.count()).select_from(table).where(cond)).scalar_one() > 0
        )


# The hot path's statements, built once: constructing a statement costs more than running it.
# SQLite only (PostgreSQL finds keys by its unique index). The index named: statistics gathered
# while the table was small would have SQLite scan it for a thousand hashes rather than seek each.
_FIND_TXNS = text(
    "SELECT idem_key, id, fingerprint, result FROM transactions"
    " INDEXED BY ix_transactions_key_hash WHERE key_hash IN :hashes AND scope = :scope"
).bindparams(bindparam("hashes", expanding=True))
_INSERT_TXN = insert(t.transactions).returning(t.transactions.c.id)
_ACCOUNT_BY_REF = select(t.accounts).where(t.accounts.c.ref == bindparam("ref"))
_ACCOUNT_BY_ID = select(t.accounts).where(t.accounts.c.id == bindparam("id"))
_BALANCE = select(t.balances).where(
    t.balances.c.account_id == bindparam("account_id"), t.balances.c.unit == bindparam("unit")
)
_BALANCE_FOR_UPDATE = _BALANCE.with_for_update()
# A Lot's fields, in the order of its constructor.
_LOT_FIELDS = (
    t.lots.c.id,
    t.lots.c.source,
    t.lots.c.priority,
    t.lots.c.expires_at,
    t.lots.c.created_at,
    t.lots.c.remaining,
    t.lots.c.held,
)

# One charge's reads in one statement: the account joined to its balance row (locked on
# PostgreSQL) and its lots with something left, plus the transaction already under the key.
_CHARGE_LOAD = (
    select(
        t.accounts.c.id,
        t.accounts.c.ref,
        t.accounts.c.root_id,
        t.accounts.c.parent_id,
        t.accounts.c.status,
        t.balances.c.account_id,
        t.balances.c.unit,
        t.balances.c.balance,
        t.balances.c.reserved,
        t.balances.c.assigned,
        t.balances.c.payg_price_minor,
        t.balances.c.payg_price_per,
        t.balances.c.payg_currency,
        t.lots.c.id.label("lot_id"),
        *_LOT_FIELDS[1:],
        t.transactions.c.id.label("txn_id"),
        t.transactions.c.fingerprint,
        t.transactions.c.result,
    )
    .select_from(
        t.accounts.join(
            t.balances,
            and_(
                t.balances.c.account_id == t.accounts.c.id,
                t.balances.c.unit == bindparam("unit"),
            ),
        )
        .outerjoin(
            t.lots,
            and_(
                t.lots.c.account_id == t.accounts.c.id,
                t.lots.c.unit == t.balances.c.unit,
                t.LIVE_LOT,
            ),
        )
        .outerjoin(
            t.transactions,
            and_(
                t.transactions.c.key_hash == bindparam("key_hash"),
                t.transactions.c.scope == bindparam("scope"),
                t.transactions.c.idem_key == bindparam("key"),
            ),
        )
    )
    .where(t.accounts.c.ref == bindparam("ref"))
)
_CHARGE_LOAD_NAMES = list(_CHARGE_LOAD.selected_columns.keys())
# PostgreSQL: the same, the balance row locked, and whether the locked row is the version the
# statement's snapshot saw (an InitPlan reads that version once, from the snapshot).
_SEEN = t.balances.alias("seen")
_SEEN_ACCOUNT = t.accounts.alias("seen_account")
_SEEN_VERSION = (
    select(literal_column("seen.xmin"))
    .select_from(_SEEN.join(_SEEN_ACCOUNT, _SEEN_ACCOUNT.c.id == _SEEN.c.account_id))
    .where(_SEEN_ACCOUNT.c.ref == bindparam("ref"), _SEEN.c.unit == bindparam("unit"))
    .scalar_subquery()
)
_CHARGE_LOAD_LOCKING = _CHARGE_LOAD.add_columns(
    (literal_column("balances.xmin") == _SEEN_VERSION).label("fresh")
).with_for_update(of=t.balances)
_FRESH = len(_CHARGE_LOAD_NAMES)  # the position of "fresh" in a row
# Many accounts' reads at once: the same columns less the transaction under a key.
_PAIR_IN = tuple_(t.accounts.c.ref, t.balances.c.unit).in_(bindparam("pairs", expanding=True))
_BOOKS_LOAD = (
    select(
        *(
            c
            for c in _CHARGE_LOAD.selected_columns
            if c.key not in ("txn_id", "fingerprint", "result")
        )
    )
    .select_from(
        t.accounts.join(t.balances, t.balances.c.account_id == t.accounts.c.id).outerjoin(
            t.lots,
            and_(
                t.lots.c.account_id == t.accounts.c.id,
                t.lots.c.unit == t.balances.c.unit,
                t.LIVE_LOT,
            ),
        )
    )
    .where(_PAIR_IN)
)
_LOCK_BOOKS = (
    select(t.balances.c.account_id)
    .select_from(t.balances.join(t.accounts, t.accounts.c.id == t.balances.c.account_id))
    .where(_PAIR_IN)
    .order_by(t.balances.c.account_id, t.balances.c.unit)
    .with_for_update(of=t.balances)
)
_PG_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]
_SQLITE_DIALECT = SQLiteDialect_pysqlite(paramstyle="named")
_INSTANT_COLUMNS = frozenset({"expires_at", "created_at"})  # of the charge's read
_UNIT_EXISTS = select(t.units.c.code).where(t.units.c.code == bindparam("code"))
_LIVE_LOTS = select(*_LOT_FIELDS).where(
    t.lots.c.account_id == bindparam("account_id"),
    t.lots.c.unit == bindparam("unit"),
    t.LIVE_LOT,
)


class _Record:
    """A driver row read by column name, its instants in UTC (as the store's type gives them)."""

    __slots__ = ("_values",)

    def __init__(self, names: list[str], row: Sequence[Any]) -> None:
        self._values = {
            name: value.astimezone(UTC) if isinstance(value, datetime) else value
            for name, value in zip(names, row, strict=True)
        }

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


@cache
def _pg_sql(statement: Any) -> str:
    return str(statement.compile(dialect=_PG_DIALECT))


@cache
def _sqlite_sql(statement: Any) -> str:
    return str(statement.compile(dialect=_SQLITE_DIALECT))


def _sqlite_row(row: Sequence[Any], instants: list[int]) -> list[Any]:
    """Instants as the store's type reads them: SQLite keeps them as naive UTC text."""
    values = list(row)
    for i in instants:
        if values[i] is not None:
            values[i] = datetime.fromisoformat(values[i]).replace(tzinfo=UTC)
    return values


def _balance(row: Any) -> Balance:
    return Balance(
        account_id=row.account_id,
        unit=row.unit,
        root_id=row.root_id,
        balance=row.balance,
        reserved=row.reserved,
        assigned=row.assigned,
        payg_price_minor=row.payg_price_minor,
        payg_price_per=row.payg_price_per,
        payg_currency=row.payg_currency,
    )


def _insert_ignore(dialect: str, table: Any) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
