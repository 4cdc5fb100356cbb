"""Opaque pagination cursors: where the previous page stopped, tagged with what it counts."""

from __future__ import annotations

import base64
import binascii

from postmeter.api.problems import ApiError


def encode(kind: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode()


def decode(kind: str, cursor: str | None) -> int:
    """The position in ``cursor`` (0 for none); 422 for a cursor this API did not give out."""
    if cursor is None:
        return 0
    try:
        tag, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        position = int(value)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        position = -1
        tag = ""
    if tag != kind or not 0 <= position <= 2**63 - 1:
        raise ApiError(422, "invalid_input", "cursor is not one this API gave out")
    return position
