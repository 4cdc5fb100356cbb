"""A long history, seeded in bulk: the journal of a busy year that charges must not feel.

The rows are what the engine itself would have written (a grant, then one-credit charges, each
with its transaction and a journal entry carrying the balance after it), generated inside the
database: ``generate_series`` on PostgreSQL, a recursive CTE on SQLite. Most of the history
belongs to other accounts; each charged account gets exhausted lots of its own, so its journal
and its lot list are long too. The books stay balanced: ``postmeter.verify`` passes on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text

from bench.sizes import ENTRIES_PER_LOT, Sizes
from postmeter.store.keys import key_hash

UNIT = "email"
# Keys as clients send them, spread over the unique index (a message id, a UUID), not in order:
# key n starts with (n * KEY_MULTIPLIER) mod 2**32 in hex, as the benchmark's own keys do.
KEY_MULTIPLIER = 2_654_435_761
OTHER_LOT_CREDITS = 1_000  # another account's lot: still live after its 99 charges
EXHAUSTED_LOT_CREDITS = ENTRIES_PER_LOT - 1  # a charged account's old lot: 99 charges empty it


@dataclass(frozen=True, slots=True)
class _Section:
    """``accounts`` consecutive accounts, each with ``lots`` lots of ``ENTRIES_PER_LOT`` entries.

    Row ``n`` (1-based) of the section is entry ``j`` of lot ``k`` of account ``a``, numbered so
    the accounts' entries interleave as a real journal's do: n - 1 = (k * E + j) * A + a.
    """

    first_account: int
    accounts: int
    lots: int
    lot_credits: int
    expiring: bool
    first_txn: int  # ids are given explicitly, after the ones already there
    first_lot: int
    first_seq: int
    first_second: int  # created_at of row n is the history's start plus first_second + n seconds

    @property
    def entries(self) -> int:
        return self.accounts * self.lots * ENTRIES_PER_LOT

    @property
    def balance(self) -> int:
        """Each account's balance once the section's entries are in."""
        return self.lots * (self.lot_credits - (ENTRIES_PER_LOT - 1))


def seed_history(engine: Engine, charged_ids: list[int], sizes: Sizes) -> int:
    """Seed ``sizes.history_entries`` journal entries; returns how many. Run before funding."""
    first_charged = min(charged_ids)
    assert charged_ids == list(range(first_charged, first_charged + len(charged_ids)))
    start = (datetime.now(UTC) - timedelta(days=400)).replace(microsecond=0)
    with engine.begin() as conn:
        top = {table: _max_id(conn, table, column) for table, column in _ID_COLUMNS}
        own = _Section(
            first_account=first_charged,
            accounts=len(charged_ids),
            lots=sizes.history_lots_per_account,
            lot_credits=EXHAUSTED_LOT_CREDITS,
            expiring=True,
            first_txn=top["transactions"] + 1,
            first_lot=top["lots"] + 1,
            first_seq=top["entries"] + 1,
            first_second=0,
        )
        others = _Section(
            first_account=top["accounts"] + 1,
            accounts=(sizes.history_entries - own.entries) // ENTRIES_PER_LOT,
            lots=1,
            lot_credits=OTHER_LOT_CREDITS,
            expiring=False,
            first_txn=own.first_txn + own.entries,
            first_lot=own.first_lot + own.accounts * own.lots,
            first_seq=own.first_seq + own.entries,
            first_second=own.entries,
        )
        sql = _Sql(engine.dialect.name, start)
        conn.exec_driver_sql(sql.accounts(others))
        for section in (own, others):
            conn.exec_driver_sql(sql.balances(section))
            conn.exec_driver_sql(sql.transactions(section), _key_hashes(conn, section))
            conn.exec_driver_sql(sql.lots(section))
            conn.exec_driver_sql(sql.entries(section))
        if engine.dialect.name == "postgresql":
            for table, column in _ID_COLUMNS:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                        f" (SELECT max({column}) FROM {table}))"
                    )
                )
    return own.entries + others.entries


_ID_COLUMNS = (("accounts", "id"), ("lots", "id"), ("transactions", "id"), ("entries", "seq"))
SCOPE = "operator"


def _key_hashes(conn: Connection, s: _Section) -> dict[str, list[int]]:
    """What computes the section's ``key_hash`` column (postmeter.store.keys, in Python): on
    SQLite a function of the connection's; on PostgreSQL an array of them all, by row number."""
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        driver.create_function("pm_key_hash", 2, key_hash, deterministic=True)  # type: ignore[union-attr]
        return {}
    numbers = range(s.first_txn, s.first_txn + s.entries)
    return {"hashes": [key_hash(SCOPE, seeded_key(number)) for number in numbers]}


def seeded_key(number: int) -> str:
    """Transaction ``number``'s key, as ``_Sql._key`` makes it in SQL."""
    return f"k{number * KEY_MULTIPLIER % 2**32:08x}-history-{number}"


def _max_id(conn: Connection, table: str, column: str) -> int:
    return int(conn.execute(text(f"SELECT coalesce(max({column}), 0) FROM {table}")).scalar_one())


class _Sql:
    """The INSERT ... SELECT statements of a section, in the dialect's words."""

    def __init__(self, dialect: str, start: datetime) -> None:
        self.pg = dialect == "postgresql"
        self.start = start.strftime("%Y-%m-%d %H:%M:%S")

    def _numbers(self, count: int, insert: str, exprs: str, derived: str) -> str:
        """``insert`` SELECT ``exprs`` over n = 1..count, with ``derived`` columns beside n."""
        if self.pg:
            return (
                f"{insert} SELECT {exprs} FROM"
                f" (SELECT n, {derived} FROM generate_series(1, {count}) AS g(n)) s"
            )
        return (
            f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {count})"
            f" {insert} SELECT {exprs} FROM (SELECT n, {derived} FROM g) s"
        )

    def _at(self, seconds: str) -> str:
        """The instant ``seconds`` (an SQL expression) after the start of the history."""
        if self.pg:
            return f"(TIMESTAMPTZ '{self.start}+00' + ({seconds}) * INTERVAL '1 second')"
        return (
            f"(strftime('%Y-%m-%d %H:%M:%S', '{self.start}', '+' || ({seconds}) || ' seconds')"
            " || '.000000')"
        )

    def _key(self, number: str) -> str:
        """The idempotency key of transaction ``number``, shaped as ``bench.workload.Keys``."""
        scrambled = _mod(f"({number}) * {KEY_MULTIPLIER}", 2**32)
        hex8 = f"lpad(to_hex({scrambled}), 8, '0')" if self.pg else f"printf('%08x', {scrambled})"
        return f"'k' || {hex8} || '-history-' || ({number})"

    def _key_hash(self, number: str) -> str:
        """The hash of that key: see ``_key_hashes``."""
        if self.pg:
            return "(%(hashes)s::bigint[])[n]"
        return f"pm_key_hash('{SCOPE}', {self._key(number)})"

    def _hex64(self, number: str) -> str:
        if self.pg:
            return f"lpad(to_hex({number}), 64, '0')"
        return f"printf('%064x', {number})"

    @staticmethod
    def _rows(s: _Section) -> str:
        """a, j and k of row n. No ``%``: psycopg would take it for a placeholder."""
        a, e = s.accounts, ENTRIES_PER_LOT
        return (
            f"{_mod('n - 1', a)} AS a, {_mod(f'(n - 1) / {a}', e)} AS j, (n - 1) / {a} / {e} AS k"
        )

    def accounts(self, s: _Section) -> str:
        account = f"{s.first_account - 1} + n"
        return self._numbers(
            s.accounts,
            "INSERT INTO accounts"
            " (id, ref, root_id, parent_id, name, email, timezone, status, created_at)",
            f"{account}, 'history-' || n, {account}, NULL, 'History customer ' || n,"
            f" 'billing' || n || '@history.test', 'UTC', 'active', {self._at('0')}",
            "0 AS unused",
        )

    def balances(self, s: _Section) -> str:
        account = f"{s.first_account - 1} + n"
        return self._numbers(
            s.accounts,
            "INSERT INTO balances (account_id, unit, root_id, balance, reserved, assigned)",
            f"{account}, '{UNIT}', {account}, {s.balance}, 0, 0",
            "0 AS unused",
        )

    def transactions(self, s: _Section) -> str:
        account = f"{s.first_account} + a"
        lot = f"{s.first_lot} + k * {s.accounts} + a"
        grant = (
            f'\'{{"account_id":\' || ({account}) || \',"unit":"{UNIT}","credits":'
            f"{s.lot_credits},\"lot_id\":' || ({lot}) || '}}'"
        )
        charge = (
            f'\'{{"account_id":\' || ({account}) || \',"unit":"{UNIT}","credits":1,'
            f'"drawn":[[\' || ({lot}) || \',1]],"overage":0,"balance":\''
            f" || ({s.lot_credits} - j) || ',\"available\":' || ({s.lot_credits} - j) || '}}'"
        )
        return self._numbers(
            s.entries,
            "INSERT INTO transactions (id, scope, idem_key, key_hash, fingerprint, operation,"
            " root_id, actor, reason, created_at, result)",
            f"{s.first_txn - 1} + n, '{SCOPE}', {self._key(f'{s.first_txn - 1} + n')},"
            f" {self._key_hash(f'{s.first_txn - 1} + n')},"
            f" {self._hex64(f'{s.first_txn - 1} + n')},"
            " CASE WHEN j = 0 THEN 'grant' ELSE 'charge' END,"
            f" {account}, 'operator', NULL, {self._at(f'{s.first_second} + n')},"
            f" CASE WHEN j = 0 THEN {grant} ELSE {charge} END",
            self._rows(s),
        )

    def lots(self, s: _Section) -> str:
        # Lot m (1-based) is lot k of account a with m - 1 = k * A + a; its grant is the
        # section's row n = k * E * A + a + 1.
        grant_row = f"k * {ENTRIES_PER_LOT * s.accounts} + a + 1"
        created = self._at(f"{s.first_second} + {grant_row}")
        expires = self._at(f"{s.first_second} + {grant_row} + 30 * 86400") if s.expiring else "NULL"
        source = "'plan'" if s.expiring else "'adjustment'"
        return self._numbers(
            s.accounts * s.lots,
            "INSERT INTO lots (id, account_id, unit, root_id, source, priority, amount,"
            " remaining, held, expires_at, created_at, txn_id)",
            f"{s.first_lot - 1} + n, {s.first_account} + a, '{UNIT}', {s.first_account} + a,"
            f" {source}, 100, {s.lot_credits}, {s.lot_credits - (ENTRIES_PER_LOT - 1)}, 0,"
            f" {expires}, {created}, {s.first_txn - 1} + {grant_row}",
            f"{_mod('n - 1', s.accounts)} AS a, (n - 1) / {s.accounts} AS k",
        )

    def entries(self, s: _Section) -> str:
        # Valid running balances need each account's earlier lots to be empty (or just one lot).
        assert s.lots == 1 or s.lot_credits == ENTRIES_PER_LOT - 1
        return self._numbers(
            s.entries,
            "INSERT INTO entries (seq, txn_id, account_id, unit, root_id, lot_id, kind, delta,"
            " held_delta, balance_after, counterparty, sender_id, created_at)",
            f"{s.first_seq - 1} + n, {s.first_txn - 1} + n, {s.first_account} + a, '{UNIT}',"
            f" {s.first_account} + a, {s.first_lot} + k * {s.accounts} + a,"
            " CASE WHEN j = 0 THEN 'grant' ELSE 'charge' END,"
            f" CASE WHEN j = 0 THEN {s.lot_credits} ELSE -1 END, 0, {s.lot_credits} - j,"
            " CASE WHEN j = 0 THEN 'issuance' ELSE 'usage' END, NULL,"
            f" {self._at(f'{s.first_second} + n')}",
            self._rows(s),
        )


def _mod(number: str, divisor: int) -> str:
    """``number`` modulo ``divisor`` for non-negative integers, in plain arithmetic."""
    return f"(({number}) - (({number}) / {divisor}) * {divisor})"
