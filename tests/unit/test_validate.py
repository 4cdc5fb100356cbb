"""The checks for names, references, e-mail addresses, texts, currencies, counts and instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from postmeter.domain.errors import InvalidInput
from postmeter.domain.validate import (
    check_code,
    check_count,
    check_currency,
    check_email,
    check_ref,
    check_text,
    parse_instant,
)


@pytest.mark.parametrize("code", ["email", "sms", "p-500", "x", "a_b", "a" * 32])
def test_good_codes(code: str) -> None:
    assert check_code(code, "unit code") == code


@pytest.mark.parametrize("code", ["", "Email", "1abc", "-x", "a b", "a" * 33, "é", None, 5])
def test_bad_codes_are_refused_naming_what_they_are(code: Any) -> None:
    with pytest.raises(InvalidInput, match=r"^plan code "):
        check_code(code, "plan code")


@pytest.mark.parametrize("ref", ["acme", "Acme-42", "a.b_c@d+e", "9", "a" * 64])
def test_good_account_references(ref: str) -> None:
    assert check_ref(ref) == ref


@pytest.mark.parametrize("ref", ["", "-acme", ".acme", "a b", "a/b", "a" * 65, "ac\u00e9", None])
def test_bad_account_references(ref: Any) -> None:
    with pytest.raises(InvalidInput, match="account reference"):
        check_ref(ref)


@pytest.mark.parametrize("email", ["ops@acme.test", "a.b+c@sub.example.org"])
def test_good_emails(email: str) -> None:
    assert check_email(email) == email


@pytest.mark.parametrize(
    "email",
    ["", "acme", "@acme.test", "ops@", "ops@acme", "a b@acme.test", "a@@acme.test",
     "x" * 65 + "@acme.test", "a@" + "b" * 250 + ".test", None],
)  # fmt: skip
def test_bad_emails(email: Any) -> None:
    with pytest.raises(InvalidInput, match="not an e-mail address"):
        check_email(email)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * 201, "longer than 200"),
        ("line\nbreak", "control characters"),
        ("bell\x07", "control characters"),
        (None, "must not be empty"),
    ],
)
def test_bad_texts(text: Any, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        check_text(text, "reason")
    assert caught.value.message.startswith("reason ")


def test_good_texts_including_accents() -> None:
    assert (
        check_text("Crédits offerts à l'inscription", "reason") == "Crédits offerts à l'inscription"
    )
    assert check_text("x" * 500, "reason", 500) == "x" * 500


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "", "123", None])
def test_bad_currencies(currency: Any) -> None:
    with pytest.raises(InvalidInput, match="ISO 4217"):
        check_currency(currency)


@pytest.mark.parametrize(
    ("value", "ok"),
    [(0, True), (1_000_000, True), (-1, False), (1_000_001, False), (True, False), (1.0, False)],
)
def test_counts(value: Any, ok: bool) -> None:
    if ok:
        assert check_count(value, "seats") == value
    else:
        with pytest.raises(InvalidInput, match=r"^seats must be a whole number"):
            check_count(value, "seats")


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-04-09T10:00:00+02:00", datetime(2026, 4, 9, 8, tzinfo=UTC)),
        ("2026-04-09T10:00:00Z", datetime(2026, 4, 9, 10, tzinfo=UTC)),
        (" 2026-04-09T10:00:00.5+00:00 ", datetime(2026, 4, 9, 10, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_instant_keeps_the_instant(text: str, instant: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == instant
    assert parsed.utcoffset() is not None


def test_parse_instant_keeps_the_given_offset() -> None:
    parsed = parse_instant("2026-04-09T10:00:00+02:00")
    assert parsed.tzinfo == timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2026-04-09T10:00:00", "no time zone"),
        ("2026-04-09", "no time zone"),
        ("yesterday", "not an ISO 8601"),
        ("2026-13-01T00:00:00Z", "not an ISO 8601"),
        ("2026-02-30T00:00:00Z", "not an ISO 8601"),
        ("", "not an ISO 8601"),
        (None, "not an ISO 8601"),
    ],
)
def test_malformed_instants(text: Any, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        parse_instant(text)
