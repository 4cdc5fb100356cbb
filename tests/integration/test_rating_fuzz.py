"""Random Unicode as texts and random strings as numbers through quote, send and campaigns: each
answers or refuses with a PostmeterError, never anything else, and the books still balance. On
SQLite and PostgreSQL (which cannot store NUL characters, nor lone surrogates)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import postmeter as pm

OP = pm.OPERATOR
START = datetime(2026, 4, 1, 9, tzinfo=UTC)

# Any code point (lone surrogates and control characters included), and texts made of the
# characters that matter: GSM-7 and its extension, NUL, a lone surrogate, an emoji, an accent.
ANY_CHARACTER = st.characters(exclude_categories=())
AWKWARD = [*"Hi é{}[]~€^|\\\f\n\r@£", "\x00", "\ud83d", "\U0001f600", "\u0301", "\u200d"]
TEXTS = st.one_of(
    st.text(st.sampled_from(AWKWARD), max_size=300),
    st.text(st.sampled_from(AWKWARD), min_size=1, max_size=20),
    st.text(ANY_CHARACTER, max_size=400),
)
VALID = ["+33612345678", "+33 7 81 23 45 67", "+4915123456789", "+1 201-555-0123"]
WILD = (
    st.sampled_from(["06 12 34 56 78", "+800 1234 5678", "+33 6 12", ""])
    | st.from_regex(r"\+?[0-9 ().-]{0,18}", fullmatch=True)
    | st.text(ANY_CHARACTER, max_size=25)
    | st.text(st.sampled_from(AWKWARD), max_size=25)
)
# Most lists have only numbers that can be priced, so the texts get as far as the books.
PRICEABLE = st.lists(st.sampled_from(VALID), min_size=1, max_size=4)
NUMBERS = (
    PRICEABLE
    | PRICEABLE
    | st.builds(
        lambda valid, wild: valid + wild,
        st.lists(st.sampled_from(VALID), max_size=3),
        st.lists(WILD, max_size=3),
    )
)
REGIONS = st.sampled_from([None, None, None, "FR", "fr"]) | st.none() | st.text(max_size=3)
KEYS = itertools.count(1)


@pytest.fixture
def club(ctx: pm.Context) -> pm.Context:
    pm.create_account(ctx, OP, "open", "club", "Club", "sms@club.test")
    pm.grant(ctx, OP, "welcome", "club", "sms", 10**12, reason="plenty")
    pm.import_rates(ctx, OP, "rates", "sms", "FR,0.75\nDE,1.00\n*,1.25\n")
    return ctx


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=TEXTS, numbers=NUMBERS, region=REGIONS, partial=st.booleans())
# The hazards known to reach the books (PostgreSQL stores neither NUL nor lone surrogates), so
# that every run tries them whatever the random ones are.
@example(text="Hi\x00", numbers=VALID, region=None, partial=False)
@example(text="Hi \ud83d", numbers=VALID, region=None, partial=False)
@example(text="Hi", numbers=[*VALID, "+33\x00612345678", "\udcff"], region="FR", partial=True)
@example(text="€" * 5000, numbers=VALID, region=None, partial=False)
@example(text="", numbers=VALID, region=None, partial=False)
@example(text="Hi", numbers=[], region=None, partial=True)
@example(text="Hi", numbers=["+800 1234 5678"], region=None, partial=True)
def test_random_texts_and_numbers_are_priced_or_refused_with_a_postmeter_error(
    club: pm.Context, text: str, numbers: list[str], region: str | None, partial: bool
) -> None:
    key = f"fuzz-{next(KEYS)}"
    request = pm.SendRequest(
        key, "club", "sms", text=text, numbers=numbers, default_region=region, partial=partial
    )
    try:
        priced = pm.quote(club, "club", "sms", request.message)
        expected = "ok" if priced.credits else "unratable"  # partial, and none priced
    except pm.PostmeterError as exc:
        expected = exc.code
    # Sending and scheduling price the message as the quote did: they agree with it.
    for attempt in (
        lambda: pm.send(club, OP, request),
        lambda: pm.schedule_campaign(club, OP, request, START + timedelta(days=1)),
    ):
        try:
            attempt()
            outcome = "ok"
        except pm.PostmeterError as exc:
            outcome = exc.code
        assert outcome == expected
    pm.verify(club)
