"""How many SMS parts a text takes, by GSM 03.38, and the parts themselves.

A text of only GSM-7 characters travels as septets: 160 in a single SMS, 153 per part once
concatenated (the user data header takes the rest). The extension characters take two septets
(an escape, then the character) and the pair never splits. Any other character sends the whole
text as UCS-2: 70 UTF-16 code units alone, 67 per part. A part never ends inside a character
(a surrogate pair) nor inside a grapheme (a flag, an accented letter, an emoji sequence).

>>> segment("Hello").count, segment("Hello").chars_left
(1, 155)
>>> segment("€" * 100).encoding, segment("€" * 100).count
('gsm7', 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NoReturn

from postmeter.domain.errors import InvalidInput
from postmeter.domain.graphemes import graphemes

Encoding = Literal["gsm7", "ucs2"]

# The default alphabet, less its escape (0x1B): a text that holds a raw escape is not GSM-7 text.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[]~|€")
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

# (alone, per part when concatenated), in septets or UTF-16 code units.
CAPACITY: dict[Encoding, tuple[int, int]] = {"gsm7": (160, 153), "ucs2": (70, 67)}

# The concatenation header counts parts in one byte.
MAX_PARTS = 255


@dataclass(frozen=True, slots=True)
class Segments:
    """A text cut into SMS parts; ``chars_left`` is the room left in the last one.

    Room is counted as the encoding counts it: septets for GSM-7 (an extension character takes
    two), UTF-16 code units for UCS-2 (an emoji usually takes two).
    """

    encoding: Encoding
    parts: tuple[str, ...]
    chars_left: int

    @property
    def count(self) -> int:
        return len(self.parts)


def segment(text: str) -> Segments:
    """Cut ``text`` into the fewest SMS parts its encoding allows, in order."""
    if not isinstance(text, str) or not text:
        raise InvalidInput("an SMS text must not be empty")
    encoding: Encoding = "gsm7" if _GSM7.issuperset(text) else "ucs2"
    size = _septets if encoding == "gsm7" else _utf16_units
    alone, per_part = CAPACITY[encoding]
    # Every character takes at least one unit: refuse a huge text before looking at it closely.
    if len(text) > MAX_PARTS * per_part:
        _refuse_parts(-(-len(text) // per_part))
    clusters = graphemes(text)
    total = sum(map(size, clusters))
    if total <= alone:
        return Segments(encoding, (text,), alone - total)
    parts, last_size = _pack(_pieces(clusters, size, per_part), size, per_part)
    if len(parts) > MAX_PARTS:
        _refuse_parts(len(parts))
    return Segments(encoding, tuple(parts), per_part - last_size)


def _refuse_parts(at_least: int) -> NoReturn:
    raise InvalidInput(
        f"the text needs {at_least} SMS parts or more; a message has at most {MAX_PARTS}",
        parts=at_least,
    )


def _septets(chars: str) -> int:
    return sum(2 if char in GSM7_EXTENSION else 1 for char in chars)


def _utf16_units(chars: str) -> int:
    return sum(2 if ord(char) > 0xFFFF else 1 for char in chars)


def _pieces(clusters: Sequence[str], size: Callable[[str], int], capacity: int) -> Iterator[str]:
    """The indivisible pieces of the text: its graphemes, unless one cannot fit in any part.

    A cluster longer than a part (a letter under dozens of accents) has to be cut somewhere; it
    is cut between characters, which still never splits a surrogate pair or an escape.
    """
    for cluster in clusters:
        if size(cluster) <= capacity:
            yield cluster
        else:
            yield from cluster


def _pack(
    pieces: Iterator[str], size: Callable[[str], int], capacity: int
) -> tuple[list[str], int]:
    """Fill each part as far as it goes: with pieces kept whole and in order, nothing does better.

    Returns the parts and the size of the last one.
    """
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for piece in pieces:
        cost = size(piece)
        if used + cost > capacity:
            parts.append("".join(current))
            current, used = [], 0
        current.append(piece)
        used += cost
    parts.append("".join(current))
    return parts, used
