"""Grapheme clusters: what a reader sees as one character stays one piece."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postmeter.domain.graphemes import graphemes

FR = "\U0001f1eb\U0001f1f7"
DE = "\U0001f1e9\U0001f1ea"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
THUMBS_UP_MEDIUM = "\U0001f44d\U0001f3fd"
RED_HEART = "\u2764\ufe0f"
KEYCAP_ONE = "1\ufe0f\u20e3"
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


@pytest.mark.parametrize(
    ("text", "clusters"),
    [
        ("abc", ["a", "b", "c"]),
        ("e\u0301t\u00e9", ["e\u0301", "t", "\u00e9"]),  # decomposed and precomposed accents
        ("a\u0301\u0328\u0304", ["a\u0301\u0328\u0304"]),  # a letter under three marks
        (FR + DE, [FR, DE]),  # regional indicators pair up, two by two
        (FR + "\U0001f1e9", [FR, "\U0001f1e9"]),  # the odd one out stands alone
        (FAMILY + "!", [FAMILY, "!"]),
        (THUMBS_UP_MEDIUM + THUMBS_UP_MEDIUM, [THUMBS_UP_MEDIUM, THUMBS_UP_MEDIUM]),
        (RED_HEART + "x", [RED_HEART, "x"]),
        (KEYCAP_ONE + "2", [KEYCAP_ONE, "2"]),
        (ENGLAND + FR, [ENGLAND, FR]),
        ("a\r\nb", ["a", "\r\n", "b"]),
        ("\n\u0301", ["\n", "\u0301"]),  # a mark after a line break belongs to no letter
        ("\u0301a", ["\u0301", "a"]),  # nor does one at the start
    ],
)
def test_a_cluster_is_what_a_reader_sees_as_one_character(text: str, clusters: list[str]) -> None:
    assert graphemes(text) == clusters


def test_an_empty_text_has_no_clusters() -> None:
    assert graphemes("") == []


@given(st.text())
def test_the_clusters_join_back_into_the_text(text: str) -> None:
    clusters = graphemes(text)
    assert "".join(clusters) == text
    assert all(clusters)
