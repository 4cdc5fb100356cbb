"""SMS segments by GSM 03.38: which encoding, how many parts, and where the text is cut."""

from __future__ import annotations

from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.errors import InvalidInput
from postmeter.domain.graphemes import graphemes
from postmeter.domain.sms import CAPACITY, GSM7_BASIC, GSM7_EXTENSION, MAX_PARTS, Encoding, segment

FR = "\U0001f1eb\U0001f1f7"  # a flag: two regional indicators, four UTF-16 units
GRIN = "\U0001f600"  # outside the BMP: a surrogate pair, two units
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # three emoji joined: eight units
THUMBS_UP_MEDIUM = "\U0001f44d\U0001f3fd"  # an emoji and its skin tone: four units
RED_HEART = "\u2764\ufe0f"  # a symbol and its emoji variation selector: two units
E_ACUTE = "e\u0301"  # a letter and a combining accent: two units, one grapheme


def test_the_default_alphabet_has_127_characters_besides_the_escape() -> None:
    assert len(GSM7_BASIC) == 127
    assert "\x1b" not in GSM7_BASIC
    assert set("\f^{}\\[]~|€") == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "encoding", "parts", "chars_left"),
    [
        pytest.param("Hello", "gsm7", ["Hello"], 155, id="short"),
        pytest.param("a" * 160, "gsm7", ["a" * 160], 0, id="160 GSM-7 fill one SMS"),
        pytest.param("a" * 161, "gsm7", ["a" * 153, "a" * 8], 145, id="161 GSM-7 take two"),
        pytest.param("€" * 80, "gsm7", ["€" * 80], 0, id="80 euros are 160 septets"),
        pytest.param("€" * 81, "gsm7", ["€" * 76, "€" * 5], 143, id="81 euros: 76 per part"),
        pytest.param(
            "a" * 152 + "€" + "b" * 10,
            "gsm7",
            ["a" * 152, "€" + "b" * 10],
            141,
            id="an escape pair at the boundary moves whole",
        ),
        pytest.param(
            "a" * 152 + "b" + "{" + "c" * 10,
            "gsm7",
            ["a" * 152 + "b", "{" + "c" * 10],
            141,
            id="an escape pair after a full part",
        ),
        pytest.param("\f" * 3, "gsm7", ["\f" * 3], 154, id="form feed takes two"),
        pytest.param("Ça coûte 5€", "ucs2", ["Ça coûte 5€"], 59, id="û is not GSM-7"),
        pytest.param("Ça va? 5€ {ok}", "gsm7", ["Ça va? 5€ {ok}"], 143, id="Ç and € are"),
        pytest.param("ж" * 70, "ucs2", ["ж" * 70], 0, id="70 UCS-2 fill one SMS"),
        pytest.param("ж" * 71, "ucs2", ["ж" * 67, "ж" * 4], 63, id="71 UCS-2 take two"),
        pytest.param(GRIN * 35, "ucs2", [GRIN * 35], 0, id="35 emoji are 70 units"),
        pytest.param(GRIN * 36, "ucs2", [GRIN * 33, GRIN * 3], 61, id="no emoji is halved"),
        pytest.param(
            "a" * 66 + GRIN + "b" * 4,
            "ucs2",
            ["a" * 66, GRIN + "b" * 4],
            61,
            id="a surrogate pair at the boundary moves whole",
        ),
        pytest.param(FR * 18, "ucs2", [FR * 16, FR * 2], 59, id="flags are never cut in two"),
        pytest.param(
            "x" * 66 + E_ACUTE + "y" * 5,
            "ucs2",
            ["x" * 66, E_ACUTE + "y" * 5],
            60,
            id="an accent stays with its letter",
        ),
        pytest.param(
            "x" * 62 + FAMILY + "y" * 3,
            "ucs2",
            ["x" * 62, FAMILY + "y" * 3],
            56,
            id="a ZWJ sequence stays whole",
        ),
        pytest.param(
            "x" * 64 + THUMBS_UP_MEDIUM + "y" * 4,
            "ucs2",
            ["x" * 64, THUMBS_UP_MEDIUM + "y" * 4],
            59,
            id="a skin tone stays with its emoji",
        ),
        pytest.param(
            "x" * 66 + RED_HEART + "y" * 3,
            "ucs2",
            ["x" * 66, RED_HEART + "y" * 3],
            62,
            id="a variation selector stays with its symbol",
        ),
        pytest.param(
            "a\u0301" + "\u0301" * 80,
            "ucs2",
            ["a" + "\u0301" * 66, "\u0301" * 15],
            52,
            id="a cluster longer than a part is cut between characters",
        ),
    ],
)
def test_tricky_texts(text: str, encoding: str, parts: list[str], chars_left: int) -> None:
    segments = segment(text)
    assert segments.encoding == encoding
    assert list(segments.parts) == parts
    assert segments.count == len(parts)
    assert segments.chars_left == chars_left


def test_an_empty_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="must not be empty"):
        segment("")


def test_a_text_beyond_255_parts_is_refused() -> None:
    assert segment("a" * 153 * MAX_PARTS).count == MAX_PARTS
    with pytest.raises(InvalidInput, match="at most 255"):
        segment("a" * (153 * MAX_PARTS + 1))
    with pytest.raises(InvalidInput, match="at most 255"):
        segment("€" * (76 * MAX_PARTS + 1))  # few characters, but two septets each


# Texts that mix the default alphabet, its extension, and what forces UCS-2: accents to combine,
# emoji with skin tones and joiners, flags.
_CHARS = st.one_of(
    st.sampled_from(sorted(GSM7_BASIC)),
    st.sampled_from(sorted(GSM7_EXTENSION)),
    st.sampled_from(["\u0301", "\u0308", "\u200d", "\ufe0f", "\U0001f3fd", "ж", "ü", GRIN]),
    st.sampled_from(["\U0001f1eb", "\U0001f1f7", "\U0001f469", "\u2764"]),
)
_GSM7_TEXTS = st.text(
    st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION)), min_size=1, max_size=600
)
_ANY_TEXTS = st.text(_CHARS, min_size=1, max_size=400)


def _size(chars: str, encoding: Encoding) -> int:
    """Counted here on its own terms, not with the module's helpers."""
    if encoding == "gsm7":
        return len(chars) + sum(char in "\f^{}\\[]~|€" for char in chars)
    return len(chars.encode("utf-16-le")) // 2


def _greedy_part_count(text: str, encoding: Encoding, capacity: int) -> int:
    count, used = 1, 0
    for cluster in graphemes(text):
        for piece in [cluster] if _size(cluster, encoding) <= capacity else list(cluster):
            if used + _size(piece, encoding) > capacity:
                count, used = count + 1, 0
            used += _size(piece, encoding)
    return count


@given(st.one_of(_GSM7_TEXTS, _ANY_TEXTS))
def test_parts_rejoin_fit_and_are_as_few_as_can_be(text: str) -> None:
    segments = segment(text)
    alone, per_part = CAPACITY[segments.encoding]
    total = _size(text, segments.encoding)
    assert "".join(segments.parts) == text
    assert all(segments.parts)
    if total <= alone:
        assert segments.count == 1
        assert segments.chars_left == alone - total
        return
    assert all(_size(part, segments.encoding) <= per_part for part in segments.parts)
    assert segments.count == _greedy_part_count(text, segments.encoding, per_part)
    assert segments.count >= -(-total // per_part)
    assert segments.chars_left == per_part - _size(segments.parts[-1], segments.encoding)


@given(_ANY_TEXTS)
def test_a_cut_never_falls_inside_a_grapheme(text: str) -> None:
    clusters = graphemes(text)
    boundaries = set(accumulate(len(cluster) for cluster in clusters))
    oversized = any(_size(c, "ucs2") > CAPACITY["ucs2"][1] for c in clusters)
    cut = 0
    for part in segment(text).parts[:-1]:
        cut += len(part)
        assert cut in boundaries or oversized


@given(_GSM7_TEXTS)
def test_a_text_of_gsm7_characters_is_sent_as_gsm7(text: str) -> None:
    assert segment(text).encoding == "gsm7"


@given(_ANY_TEXTS.filter(lambda t: not set(t) <= GSM7_BASIC | GSM7_EXTENSION))
def test_one_other_character_makes_the_whole_text_ucs2(text: str) -> None:
    assert segment(text).encoding == "ucs2"
