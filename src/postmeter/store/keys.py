"""Where an idempotency key is found: a 64-bit hash of scope and key (``transactions.key_hash``).

Keys are the clients' own (message ids, UUIDs) and arrive in no order, so each new one lands on a
random page of whatever index finds keys. On SQLite that index is on this hash: an entry of about
15 bytes instead of the 40 to 250 of the scope and key themselves, so the index is a third of the
size or less, and a batch of a thousand new keys dirties (and writes to the WAL) that many fewer
pages. A trigger keeps (scope, key) unique through it: tables.py and migration 0006.

The hash is stored: it must never change.
"""

from __future__ import annotations

from hashlib import blake2b


def key_hash(scope: str, key: str) -> int:
    """A signed 64-bit integer (SQLite's and PostgreSQL's BIGINT) for ``key`` in ``scope``."""
    # The scope's length first: no scope and key can run into another pair's.
    data = f"{len(scope)}:{scope}{key}".encode()
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big", signed=True)
