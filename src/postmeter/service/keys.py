"""API keys: a visible prefix and a secret shown once, stored hashed, revocable at once.

A key is ``pm_<prefix>_<secret>``. The prefix finds the row; the secret is compared by its
SHA-256 (it is 256 random bits, so a slow hash would add nothing). Roles: ``operator`` keys see
everything; ``account`` keys see their account and the accounts below it. Either may be
read-only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from postmeter.domain.errors import InvalidInput, InvalidState, NotFound
from postmeter.domain.validate import check_text
from postmeter.service import lookup
from postmeter.service.context import Actor, Context
from postmeter.service.once import run_once
from postmeter.store import tables as t
from postmeter.store.uow import Tx

OPERATOR_ROLE = "operator"
ACCOUNT_ROLE = "account"
_PREFIX_BYTES = 6
_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class KeyInfo:
    prefix: str
    name: str
    role: str
    account: str | None
    read_only: bool
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True, slots=True)
class NewKey:
    info: KeyInfo
    secret: str | None  # the whole key, shown once; None when a creation is replayed


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from, as its key says."""

    prefix: str
    role: str
    account_id: int | None
    account_ref: str | None
    root_id: int | None
    read_only: bool

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR_ROLE

    @property
    def actor(self) -> Actor:
        # Idempotency keys are unique per tree (or among operators): a tenant cannot collide
        # with, or replay, another tenant's keys.
        scope = "operator" if self.is_operator else f"tree:{self.root_id}"
        return Actor(f"key:{self.prefix}", scope=scope)


def create_key(
    ctx: Context,
    actor: Actor,
    key: str,
    name: str,
    *,
    role: str,
    account: str | None = None,
    read_only: bool = False,
) -> NewKey:
    """Mint an API key. The returned secret is the only time anyone sees it."""
    check_text(name, "key name")
    if role not in (OPERATOR_ROLE, ACCOUNT_ROLE):
        raise InvalidInput(f"role must be {OPERATOR_ROLE!r} or {ACCOUNT_ROLE!r}", value=role)
    if (role == ACCOUNT_ROLE) != (account is not None):
        raise InvalidInput("an account key names its account; an operator key names none")
    prefix = secrets.token_hex(_PREFIX_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    request = {"name": name, "role": role, "account": account, "read_only": read_only}

    def work(tx: Tx, _txn: int, now: datetime) -> dict[str, Any]:
        row = lookup.account(tx, account) if account is not None else None
        tx.insert_row(
            t.api_keys,
            {
                "prefix": prefix,
                "secret_hash": _hash(secret),
                "name": name,
                "role": role,
                "account_id": row.id if row else None,
                "root_id": row.root_id if row else None,
                "read_only": read_only,
                "created_at": now,
            },
        )
        return _info(tx, prefix)

    result, _, replayed = run_once(ctx, actor, key, "key.create", request, work)
    info = KeyInfo(**result)
    return NewKey(info, None if replayed else f"pm_{info.prefix}_{secret}")


def revoke_key(ctx: Context, actor: Actor, key: str, prefix: str) -> KeyInfo:
    """Revoke a key; the next request made with it is refused."""

    def work(tx: Tx, _txn: int, now: datetime) -> dict[str, Any]:
        info = _info(tx, prefix)
        if info["revoked_at"] is not None:
            raise InvalidState(f"key {prefix} is revoked already")
        tx.conn.execute(
            update(t.api_keys).where(t.api_keys.c.prefix == prefix).values(revoked_at=now)
        )
        return _info(tx, prefix)

    result, _, _ = run_once(ctx, actor, key, "key.revoke", {"prefix": prefix}, work)
    return KeyInfo(**result)


def list_keys(ctx: Context, within: str | None = None) -> list[KeyInfo]:
    """Every key, or the keys of ``within`` and the accounts below it."""
    with ctx.store.read() as tx:
        query = select(t.api_keys.c.prefix, t.api_keys.c.account_id).order_by(t.api_keys.c.id)
        top = None
        if within is not None:
            top = lookup.account(tx, within)
            query = query.where(t.api_keys.c.root_id == top.root_id)
        return [
            KeyInfo(**_info(tx, prefix))
            for prefix, account_id in tx.conn.execute(query)
            if top is None or top.id in lookup.lineage(tx, account_id)
        ]


def authenticate(ctx: Context, token: str) -> Principal | None:
    """The principal of a presented key, or None for an unknown, malformed or revoked key."""
    parts = token.split("_") if isinstance(token, str) else []
    if len(parts) < 3 or parts[0] != "pm" or len(token) > 200:
        return None
    prefix, secret = parts[1], "_".join(parts[2:])
    if not _is_prefix(prefix):
        return None
    with ctx.store.read() as tx:
        row = tx.conn.execute(
            select(t.api_keys, t.accounts.c.ref)
            .join(t.accounts, t.accounts.c.id == t.api_keys.c.account_id, isouter=True)
            .where(t.api_keys.c.prefix == prefix)
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return Principal(prefix, row.role, row.account_id, row.ref, row.root_id, row.read_only)


def revoked_among(tx: Tx, prefixes: Collection[str]) -> set[str]:
    """Which of the keys ``prefixes`` are revoked, as ``tx`` sees them: one query for many keys,
    so a server that remembers principals can still refuse a revoked key at once."""
    if not prefixes:
        return set()
    return set(tx.conn.execute(_REVOKED_AMONG, {"prefixes": list(prefixes)}).scalars())


_REVOKED_AMONG = select(t.api_keys.c.prefix).where(
    t.api_keys.c.prefix.in_(bindparam("prefixes", expanding=True)),
    t.api_keys.c.revoked_at.is_not(None),
)


def _is_prefix(text: str) -> bool:
    return len(text) == 2 * _PREFIX_BYTES and all(c in "0123456789abcdef" for c in text)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(tx: Tx, prefix: str) -> dict[str, Any]:
    if not _is_prefix(prefix):
        raise NotFound(f"no API key {prefix!r}", key=prefix)
    row = tx.conn.execute(
        select(t.api_keys, t.accounts.c.ref)
        .join(t.accounts, t.accounts.c.id == t.api_keys.c.account_id, isouter=True)
        .where(t.api_keys.c.prefix == prefix)
    ).first()
    if row is None:
        raise NotFound(f"no API key {prefix}", key=prefix)
    return {
        "prefix": row.prefix,
        "name": row.name,
        "role": row.role,
        "account": row.ref,
        "read_only": row.read_only,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }
