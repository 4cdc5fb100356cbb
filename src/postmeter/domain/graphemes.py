"""User-perceived characters (grapheme clusters), by a small subset of Unicode's rules (UAX #29).

An SMS part must not end in the middle of what the reader sees as one character: a flag, an emoji
with its skin tone, a family joined by zero-width joiners, a letter with its accents. The rules
kept here are the ones that matter for such texts; the rest of UAX #29 (Hangul jamo, prepended
marks) is left out, which at worst splits a cluster that a full implementation would keep whole.

>>> graphemes("Go\U0001f1eb\U0001f1f7!")
['G', 'o', '🇫🇷', '!']
"""

from __future__ import annotations

import unicodedata

ZWJ = "\u200d"
_EMOJI_MODIFIERS = range(0x1F3FB, 0x1F400)  # the five skin tones
_TAGS = range(0xE0020, 0xE0080)  # spell out subdivision flags, e.g. England's
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)  # two of them make a flag


def graphemes(text: str) -> list[str]:
    """Split ``text`` into clusters that join back into it, none cut in the middle."""
    clusters: list[str] = []
    start, end = 0, len(text)
    while start < end:
        stop = _cluster_end(text, start)
        clusters.append(text[start:stop])
        start = stop
    return clusters


def _cluster_end(text: str, start: int) -> int:
    base = text[start]
    stop = start + 1
    if base == "\r" and text.startswith("\n", stop):
        return stop + 1
    # A control character stands alone: a mark after a line break belongs to no letter.
    if unicodedata.category(base) == "Cc":
        return stop
    if _is_regional_indicator(base) and stop < len(text) and _is_regional_indicator(text[stop]):
        stop += 1
    while stop < len(text) and (_extends(text[stop]) or text[stop - 1] == ZWJ):
        stop += 1
    return stop


def _extends(char: str) -> bool:
    """Whether ``char`` attaches to the character before it."""
    if char == ZWJ:
        return True
    # Mn, Mc and Me: combining accents, vowel signs, enclosing keycaps, and variation selectors.
    if unicodedata.category(char).startswith("M"):
        return True
    code = ord(char)
    return code in _EMOJI_MODIFIERS or code in _TAGS


def _is_regional_indicator(char: str) -> bool:
    return ord(char) in _REGIONAL_INDICATORS
