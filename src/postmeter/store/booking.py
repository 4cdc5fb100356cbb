"""Writing a step of the books (new transactions, journal entries, lot and balance changes) in as
few statements as each database allows.

SQLite runs in-process: driver-level ``executemany`` per table is cheap. PostgreSQL is a round
trip away: there the whole step is ONE statement, its rows travelling as JSON record sets, its
parts chained by data-modifying CTEs (which all run, in one snapshot). New transactions get their
ids from the insert itself, and the entries and overages that belong to them find them by key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from postmeter.domain.books import Balance, Posting

TxnRef = int | str  # an existing transaction's id, or the key of one in the same booking

TXN_COLUMNS = (
    "scope",
    "idem_key",
    "fingerprint",
    "operation",
    "root_id",
    "actor",
    "reason",
    "result",
    "created_at",
)
ENTRY_COLUMNS = (
    "account_id",
    "unit",
    "root_id",
    "lot_id",
    "kind",
    "delta",
    "held_delta",
    "balance_after",
    "counterparty",
    "sender_id",
    "created_at",
)
_KEY = TXN_COLUMNS.index("idem_key")
OVERAGE_COLUMNS = (
    "account_id",
    "unit",
    "root_id",
    "credits",
    "price_minor",
    "price_per",
    "currency",
    "created_at",
)


@dataclass
class Booking:
    """What one unit of work writes to the books."""

    # New transactions as tuples in TXN_COLUMNS order, the result as JSON text.
    txns: list[tuple[Any, ...]] = field(default_factory=list)
    # Entries as tuples in ENTRY_COLUMNS order: a batch makes one per charge.
    entries: list[tuple[TxnRef, tuple[Any, ...]]] = field(default_factory=list)
    lots: dict[int, list[int]] = field(default_factory=dict)  # lot id -> [delta, held delta]
    balances: dict[tuple[int, str], Balance] = field(default_factory=dict)  # new totals
    overages: list[tuple[TxnRef, dict[str, Any]]] = field(default_factory=list)

    def post(
        self,
        balance: Balance,
        txn: TxnRef,
        postings: Sequence[Posting],
        now: datetime,
        sender_id: int | None = None,
    ) -> None:
        """Add postings of one transaction on ``balance``; its totals move in memory now."""
        for p in postings:
            balance.balance += p.delta
            balance.reserved += p.held_delta
            net = self.lots.setdefault(p.lot_id, [0, 0])
            net[0] += p.delta
            net[1] += p.held_delta
            self.entries.append(
                (
                    txn,
                    (
                        balance.account_id,
                        balance.unit,
                        balance.root_id,
                        p.lot_id,
                        p.kind,
                        p.delta,
                        p.held_delta,
                        balance.balance,
                        p.counterparty,
                        sender_id,
                        now,
                    ),
                )
            )
        self.balances[(balance.account_id, balance.unit)] = balance


def write(conn: Connection, booking: Booking) -> dict[str, int]:
    """Write ``booking``; returns the ids of its new transactions by key."""
    if conn.dialect.name == "postgresql":
        return _write_pg(conn, booking)
    return _write_sqlite(conn, booking)


def _write_sqlite(conn: Connection, booking: Booking) -> dict[str, int]:
    ids: dict[str, int] = {}
    instants: dict[datetime, str] = {}
    if booking.txns:
        # We hold the write lock (BEGIN IMMEDIATE): nobody else can take these ids.
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM transactions")).scalar_one()
        ids = {row[_KEY]: last + 1 + i for i, row in enumerate(booking.txns)}
        _insert(
            conn,
            "transactions",
            ("id", *TXN_COLUMNS),
            [(ids[r[_KEY]], *r[:-1], _sqlite_instant(r[-1], instants)) for r in booking.txns],
        )
    _insert(
        conn,
        "entries",
        ("txn_id", *ENTRY_COLUMNS),
        [(_id(ref, ids), *e[:-1], _sqlite_instant(e[-1], instants)) for ref, e in booking.entries],
    )
    changed = [(d, h, lot_id) for lot_id, (d, h) in booking.lots.items() if d or h]
    if changed:
        conn.exec_driver_sql(
            "UPDATE lots SET remaining = remaining + ?, held = held + ? WHERE id = ?", changed
        )
    if booking.balances:
        conn.exec_driver_sql(
            "UPDATE balances SET balance = ?, reserved = ? WHERE account_id = ? AND unit = ?",
            [(b.balance, b.reserved, b.account_id, b.unit) for b in booking.balances.values()],
        )
    _insert(
        conn,
        "overages",
        ("txn_id", *OVERAGE_COLUMNS),
        [(_id(ref, ids), *_values(o, OVERAGE_COLUMNS, instants)) for ref, o in booking.overages],
    )
    return ids


def _insert(conn: Connection, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    if rows:
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _values(
    row: dict[str, Any], columns: Sequence[str], instants: dict[datetime, str]
) -> tuple[Any, ...]:
    """The row's values in ``columns`` order, its instant (the last column) as SQLite text."""
    values = _getter(tuple(columns))(row)
    return (*values[:-1], _sqlite_instant(values[-1], instants))


@cache
def _getter(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    assert columns[-1] == "created_at"
    return itemgetter(*columns)


def _sqlite_instant(value: datetime, instants: dict[datetime, str]) -> str:
    """Naive UTC text, as SQLAlchemy's DateTime keeps it in SQLite. Most rows of a booking share
    their instant, so each is formatted once."""
    if value not in instants:
        instants[value] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return instants[value]


def _id(ref: TxnRef, ids: dict[str, int]) -> int:
    return ids[ref] if isinstance(ref, str) else ref


# PostgreSQL: one statement. Each part reads its rows from a JSON parameter; ``txn`` returns the
# new ids, which entries and overages join on by key (or take as given, for older transactions).
_PG_BOOKING = """
WITH txn AS (
    INSERT INTO transactions (scope, idem_key, fingerprint, operation, root_id, actor, reason,
                              created_at, result)
    SELECT * FROM json_to_recordset(%(txns)s::json) AS r(
        scope varchar, idem_key varchar, fingerprint varchar, operation varchar, root_id integer,
        actor varchar, reason text, created_at timestamptz, result text)
    RETURNING id, idem_key
), new_entries AS (
    INSERT INTO entries (txn_id, account_id, unit, root_id, lot_id, kind, delta, held_delta,
                         balance_after, counterparty, sender_id, created_at)
    SELECT coalesce(e.txn_id, txn.id), e.account_id, e.unit, e.root_id, e.lot_id, e.kind,
           e.delta, e.held_delta, e.balance_after, e.counterparty, e.sender_id, e.created_at
    FROM json_to_recordset(%(entries)s::json) AS e(
        n integer, txn_id bigint, txn_key varchar, account_id integer, unit varchar,
        root_id integer, lot_id integer, kind varchar, delta bigint, held_delta bigint,
        balance_after bigint, counterparty varchar, sender_id integer, created_at timestamptz)
    LEFT JOIN txn ON txn.idem_key = e.txn_key
    ORDER BY e.n
), lot_changes AS (
    UPDATE lots SET remaining = lots.remaining + d.delta, held = lots.held + d.held
    FROM unnest(%(lot_ids)s::integer[], %(lot_deltas)s::bigint[], %(lot_helds)s::bigint[])
         AS d(id, delta, held)
    WHERE lots.id = d.id
), balance_changes AS (
    UPDATE balances SET balance = b.balance, reserved = b.reserved
    FROM unnest(%(balance_accounts)s::integer[], %(balance_units)s::varchar[],
                %(balance_totals)s::bigint[], %(balance_reserved)s::bigint[])
         AS b(account_id, unit, balance, reserved)
    WHERE balances.account_id = b.account_id AND balances.unit = b.unit
), new_overages AS (
    INSERT INTO overages (txn_id, account_id, unit, root_id, credits, price_minor, price_per,
                          currency, created_at)
    SELECT coalesce(o.txn_id, txn.id), o.account_id, o.unit, o.root_id, o.credits,
           o.price_minor, o.price_per, o.currency, o.created_at
    FROM json_to_recordset(%(overages)s::json) AS o(
        txn_id bigint, txn_key varchar, account_id integer, unit varchar, root_id integer,
        credits bigint, price_minor bigint, price_per bigint, currency varchar,
        created_at timestamptz)
    LEFT JOIN txn ON txn.idem_key = o.txn_key
)
SELECT id, idem_key FROM txn
"""


def _write_pg(conn: Connection, booking: Booking) -> dict[str, int]:
    params = {
        "txns": _json([dict(zip(TXN_COLUMNS, row, strict=True)) for row in booking.txns]),
        "entries": _json(
            [
                _keyed(ref, dict(zip(ENTRY_COLUMNS, e, strict=True)), n)
                for n, (ref, e) in enumerate(booking.entries)
            ]
        ),
        # Lots and balances travel as arrays: the planner then knows how few rows they are and
        # finds them by primary key (a JSON record set is guessed at 100 rows and may be hashed
        # against a scan of the whole table).
        "lot_ids": [i for i, (d, h) in booking.lots.items() if d or h],
        "lot_deltas": [d for d, h in booking.lots.values() if d or h],
        "lot_helds": [h for d, h in booking.lots.values() if d or h],
        "balance_accounts": [b.account_id for b in booking.balances.values()],
        "balance_units": [b.unit for b in booking.balances.values()],
        "balance_totals": [b.balance for b in booking.balances.values()],
        "balance_reserved": [b.reserved for b in booking.balances.values()],
        "overages": _json([_keyed(ref, o, n) for n, (ref, o) in enumerate(booking.overages)]),
    }
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        try:
            cursor.execute(_PG_BOOKING, params)
        except psycopg.IntegrityError as exc:
            # Callers handle constraint violations (a key booked concurrently) as SQLAlchemy's.
            raise IntegrityError(_PG_BOOKING, None, exc) from exc
        return {key: int(txn_id) for txn_id, key in cursor.fetchall()}


def _keyed(ref: TxnRef, row: dict[str, Any], n: int) -> dict[str, Any]:
    if isinstance(ref, str):
        return {**row, "txn_key": ref, "n": n}
    return {**row, "txn_id": ref, "n": n}


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, separators=(",", ":"), default=_instant_json)


def _instant_json(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")
