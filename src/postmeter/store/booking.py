"""Writing a step of the books (new transactions, journal entries, lot and balance changes) in as
few statements as each database allows.

SQLite runs in-process: driver-level ``executemany`` per table is cheap. PostgreSQL is a round
trip away: there the whole step is ONE statement, its rows travelling as JSON record sets, its
parts chained by data-modifying CTEs (which all run, in one snapshot). New transactions get their
ids from the insert itself, and the entries and overages that belong to them find them by key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from postmeter.domain.books import Balance, Posting
from postmeter.store.keys import key_hash

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
_SCOPE, _KEY = TXN_COLUMNS.index("scope"), TXN_COLUMNS.index("idem_key")
# What is written: the callers' columns, then the key's hash (store/keys.py), computed here.
_WRITTEN_TXN_COLUMNS = (*TXN_COLUMNS, "key_hash")
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


def write(conn: Connection, booking: Booking, *, last: bool = False) -> dict[str, int]:
    """Write ``booking``; returns the ids of its new transactions by key.

    ``last``: nothing follows in the transaction, so PostgreSQL commits in the same round trip
    (the unit of work's own commit then finds nothing left to do).

    A constraint violation (a key booked concurrently) raises SQLAlchemy's IntegrityError, as
    the statements the callers run through SQLAlchemy do.
    """
    try:
        if conn.dialect.name == "postgresql":
            return _write_pg(conn, booking, last)
        return _write_sqlite(conn, booking)
    except (psycopg.IntegrityError, sqlite3.IntegrityError) as exc:
        raise IntegrityError("booking", None, exc) from exc


def _write_sqlite(conn: Connection, booking: Booking) -> dict[str, int]:
    # On the driver's own cursor: SQLAlchemy's execution of a statement costs more than SQLite's.
    driver = conn.connection.driver_connection
    assert driver is not None
    ids: dict[str, int] = {}
    instants: dict[datetime, str] = {}
    txns = [
        (*r[:-1], _sqlite_instant(r[-1], instants), key_hash(r[_SCOPE], r[_KEY]))
        for r in booking.txns
    ]
    if len(txns) == 1:
        ids[txns[0][_KEY]] = driver.execute(
            _insert_sql("transactions", _WRITTEN_TXN_COLUMNS), txns[0]
        ).lastrowid
    elif txns:
        # We hold the write lock (BEGIN IMMEDIATE): nobody else can take these ids.
        last = driver.execute("SELECT coalesce(max(id), 0) FROM transactions").fetchone()[0]
        ids = {row[_KEY]: last + 1 + i for i, row in enumerate(txns)}
        driver.executemany(
            _insert_sql("transactions", ("id", *_WRITTEN_TXN_COLUMNS)),
            [(ids[r[_KEY]], *r) for r in txns],
        )
    entries = [
        (_id(ref, ids), *e[:-1], _sqlite_instant(e[-1], instants)) for ref, e in booking.entries
    ]
    if entries:
        driver.executemany(_insert_sql("entries", ("txn_id", *ENTRY_COLUMNS)), entries)
    changed = [(d, h, lot_id) for lot_id, (d, h) in booking.lots.items() if d or h]
    if changed:
        driver.executemany(
            "UPDATE lots SET remaining = remaining + ?, held = held + ? WHERE id = ?", changed
        )
    if booking.balances:
        driver.executemany(
            "UPDATE balances SET balance = ?, reserved = ?, assigned = ?"
            " WHERE account_id = ? AND unit = ?",
            [
                (b.balance, b.reserved, b.assigned, b.account_id, b.unit)
                for b in booking.balances.values()
            ],
        )
    if booking.overages:
        driver.executemany(
            _insert_sql("overages", ("txn_id", *OVERAGE_COLUMNS)),
            [
                (_id(ref, ids), *_values(o, OVERAGE_COLUMNS, instants))
                for ref, o in booking.overages
            ],
        )
    return ids


@cache
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


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


# PostgreSQL: one statement. Transactions, entries and overages travel as JSON arrays of arrays
# (a row's values in column order: no key names to build and send, and json.dumps of plain lists
# is several times faster than of dicts); ``txn`` returns the new ids, which entries and overages
# join on by key (or take as given, for older transactions).
_PG_BOOKING_TEMPLATE = """
WITH txn AS (
    INSERT INTO transactions (scope, idem_key, fingerprint, operation, root_id, actor, reason,
                              result, created_at, key_hash)
    SELECT r->>0, r->>1, r->>2, r->>3, (r->>4)::integer, r->>5, r->>6, r->>7,
           (r->>8)::timestamptz, (r->>9)::bigint
    FROM jsonb_array_elements(%(txns)s::jsonb) AS r
    RETURNING id, idem_key
), new_entries AS (
    INSERT INTO entries (txn_id, account_id, unit, root_id, lot_id, kind, delta, held_delta,
                         balance_after, counterparty, sender_id, created_at)
    SELECT coalesce((e->>1)::bigint, txn.id), (e->>2)::integer, e->>3, (e->>4)::integer,
           (e->>5)::integer, e->>6, (e->>7)::bigint, (e->>8)::bigint, (e->>9)::bigint, e->>10,
           (e->>11)::integer, (e->>12)::timestamptz
    FROM jsonb_array_elements(%(entries)s::jsonb) WITH ORDINALITY AS x(e, n)
    LEFT JOIN txn ON txn.idem_key = x.e->>0
    ORDER BY x.n
), lot_changes AS (
    UPDATE lots SET remaining = lots.remaining + d.delta, held = lots.held + d.held
    FROM {lot_changes} AS d(id, delta, held)
    WHERE lots.id = d.id
), balance_changes AS (
    UPDATE balances SET balance = b.balance, reserved = b.reserved, assigned = b.assigned
    FROM {balance_changes} AS b(account_id, unit, balance, reserved, assigned)
    WHERE balances.account_id = b.account_id AND balances.unit = b.unit
), new_overages AS (
    INSERT INTO overages (txn_id, account_id, unit, root_id, credits, price_minor, price_per,
                          currency, created_at)
    SELECT coalesce((o->>1)::bigint, txn.id), (o->>2)::integer, o->>3, (o->>4)::integer,
           (o->>5)::bigint, (o->>6)::bigint, (o->>7)::bigint, o->>8, (o->>9)::timestamptz
    FROM jsonb_array_elements(%(overages)s::jsonb) AS o
    LEFT JOIN txn ON txn.idem_key = o->>0
)
SELECT id, idem_key FROM txn
"""
# The lot and balance changes as arrays (any number of rows), or as VALUES rows (a few).
_LOT_ARRAYS = "unnest(%(lot_ids)s::integer[], %(lot_deltas)s::bigint[], %(lot_helds)s::bigint[])"
_LOT_ROW = "(%(lot_{i})s::integer, %(lot_delta_{i})s::bigint, %(lot_held_{i})s::bigint)"
_BALANCE_ARRAYS = (
    "unnest(%(balance_accounts)s::integer[], %(balance_units)s::varchar[],"
    " %(balance_totals)s::bigint[], %(balance_reserved)s::bigint[],"
    " %(balance_assigned)s::bigint[])"
)
_BALANCE_ROW = (
    "(%(balance_{i})s::integer, %(balance_unit_{i})s::varchar, %(balance_total_{i})s::bigint,"
    " %(balance_reserved_{i})s::bigint, %(balance_assigned_{i})s::bigint)"
)
# Up to this many lot (or balance) changes travel as VALUES rows. psycopg prepares a statement
# on its fifth run, and PostgreSQL then plans it once for all runs (a generic plan) when that plan
# costs no more than the plans made for each run's values. An array's length is unknown to the
# generic plan, which then finds the rows by scanning tables that have grown: so PostgreSQL
# planned the booking anew on every run (0.2 ms of a lone charge's 0.8) once the books were big,
# and a charge cost more with a long history. A VALUES list's length is part of the statement.
SMALL_STEP = 8


@cache
def _pg_booking(lots: int, balances: int) -> str:
    """The booking statement for ``lots`` lot and ``balances`` balance changes given as VALUES
    rows; 0: given as arrays."""
    lot_rows = ", ".join(_LOT_ROW.format(i=i) for i in range(lots))
    balance_rows = ", ".join(_BALANCE_ROW.format(i=i) for i in range(balances))
    return _PG_BOOKING_TEMPLATE.format(
        lot_changes=f"(VALUES {lot_rows})" if lots else _LOT_ARRAYS,
        balance_changes=f"(VALUES {balance_rows})" if balances else _BALANCE_ARRAYS,
    )


def _write_pg(conn: Connection, booking: Booking, last: bool) -> dict[str, int]:
    instants: dict[datetime, str] = {}
    params: dict[str, object] = {
        "txns": _json(
            [(*r[:-1], _iso(r[-1], instants), key_hash(r[_SCOPE], r[_KEY])) for r in booking.txns]
        ),
        "entries": _json(
            [(*_txn_ref(ref), *e[:-1], _iso(e[-1], instants)) for ref, e in booking.entries]
        ),
        "overages": _json(
            [(*_txn_ref(ref), *_overage(o, instants)) for ref, o in booking.overages]
        ),
    }
    lots = [(i, d, h) for i, (d, h) in booking.lots.items() if d or h]
    balances = list(booking.balances.values())
    as_rows = (0 < len(lots) <= SMALL_STEP, 0 < len(balances) <= SMALL_STEP)  # else arrays
    params.update(_lot_params(lots) if as_rows[0] else _lot_arrays(lots))
    params.update(_balance_params(balances) if as_rows[1] else _balance_arrays(balances))
    statement = _pg_booking(len(lots) * as_rows[0], len(balances) * as_rows[1])
    driver = conn.connection.driver_connection
    assert driver is not None
    if not last:
        with driver.cursor() as cursor:
            cursor.execute(statement, params)
            return {key: int(txn_id) for txn_id, key in cursor.fetchall()}
    with driver.pipeline(), driver.cursor() as cursor:
        cursor.execute(statement, params)
        driver.commit()  # queued behind the booking; returns once both are done, durably
        return {key: int(txn_id) for txn_id, key in cursor.fetchall()}


def _lot_params(lots: list[tuple[int, int, int]]) -> dict[str, int]:
    params: dict[str, int] = {}
    for i, (lot_id, delta, held) in enumerate(lots):
        params |= {f"lot_{i}": lot_id, f"lot_delta_{i}": delta, f"lot_held_{i}": held}
    return params


def _lot_arrays(lots: list[tuple[int, int, int]]) -> dict[str, str]:
    # Array literals: the planner then knows how few rows they are and finds them by primary
    # key (a JSON record set is guessed at 100 rows and may be hashed against a scan of the
    # whole table); as literals, because psycopg dumps a list element by element, in Python.
    return {
        "lot_ids": _array(lot_id for lot_id, _, _ in lots),
        "lot_deltas": _array(delta for _, delta, _ in lots),
        "lot_helds": _array(held for _, _, held in lots),
    }


def _balance_params(balances: list[Balance]) -> dict[str, object]:
    params: dict[str, object] = {}
    for i, b in enumerate(balances):
        params |= {
            f"balance_{i}": b.account_id,
            f"balance_unit_{i}": b.unit,
            f"balance_total_{i}": b.balance,
            f"balance_reserved_{i}": b.reserved,
            f"balance_assigned_{i}": b.assigned,
        }
    return params


def _balance_arrays(balances: list[Balance]) -> dict[str, str]:
    return {
        "balance_accounts": _array(b.account_id for b in balances),
        "balance_units": _array(f'"{b.unit}"' for b in balances),
        "balance_totals": _array(b.balance for b in balances),
        "balance_reserved": _array(b.reserved for b in balances),
        "balance_assigned": _array(b.assigned for b in balances),
    }


def _txn_ref(ref: TxnRef) -> tuple[str | None, int | None]:
    """(key, id): a new transaction of the booking by its key, an older one by its id."""
    return (ref, None) if isinstance(ref, str) else (None, ref)


def _overage(row: dict[str, Any], instants: dict[datetime, str]) -> tuple[Any, ...]:
    values = _getter(OVERAGE_COLUMNS)(row)
    return (*values[:-1], _iso(values[-1], instants))


def _array(values: Iterable[object]) -> str:
    """A PostgreSQL array literal of numbers, or of strings already quoted (unit codes)."""
    return "{" + ",".join(map(str, values)) + "}"


def _json(rows: list[tuple[Any, ...]]) -> str:
    return json.dumps(rows, separators=(",", ":"))


def _iso(value: datetime, instants: dict[datetime, str]) -> str:
    """An instant as ISO 8601 text; most rows of a booking share theirs, formatted once."""
    text_ = instants.get(value)
    if text_ is None:
        text_ = instants[value] = value.isoformat()
    return text_
