"""Fingerprints of requests, so a replayed key can be told from a reused one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from postmeter.domain.errors import InvalidInput

MAX_KEY_LENGTH = 200


def fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    """A stable hash of an operation and its request fields (key order does not matter)."""
    canonical = json.dumps([operation, request], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    """An idempotency key is 1 to 200 printable ASCII characters."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidInput(f"idempotency key must be 1 to {MAX_KEY_LENGTH} characters")
    if not key.isascii() or not key.isprintable():
        raise InvalidInput("idempotency key must be printable ASCII")
    return key
