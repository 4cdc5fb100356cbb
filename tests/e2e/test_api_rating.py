"""Rating over HTTP, through the real app, on SQLite and on PostgreSQL: rate cards and e-mail
rates (operator), quotes, sends charged by their content, packages per country, and campaigns.

Each route gets its happy path and each class of error it can answer with (400, 402, 403, 404,
409, 422), always problem+json with a stable code, never a 500, and a refusal never changes the
books. The SMS platform's seed runs end to end: ten recipients in five countries cost more than
ten credits, charged country by country; a campaign quoted at one card and sent at the next.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import postmeter as pm
from postmeter.api.app import create_app
from tests.conftest import START
from tests.support.api import PROBLEM, Caller, bearer, books, books_diff, mint, problem

RATES = {"FR": "0.75", "DE": "1.00", "BR": "0.50", "IN": "0.25", "US": "0.80"}
CHEAPER = {"FR": "0.60", "DE": "0.90", "BR": "0.50", "IN": "0.25", "US": "0.80"}
# 175 GSM-7 characters: two parts each.
TEXT = (
    "Race day on Sunday! Bibs are ready at the club house from 9am: bring your ID and your "
    "medical certificate. Start at 10:30 on the river bank, finish in the park. See you there!"
)
# Ten real numbers in five countries, written as people write them.
TEN = [
    "+33612345678", "+33612345679", "+33 7 81 23 45 67", "+4915123456789", "+49 30 123456",
    "+5511961234567", "+55 21 98765-4321", "+918123456789", "+91 98765 43210", "+1 201-555-0123",
]  # fmt: skip
# TEXT to TEN by RATES, and by CHEAPER: country, recipients, parts, rate, credits.
QUOTED = [
    ("BR", 2, 4, "0.50", "2.00"),
    ("DE", 2, 4, "1.00", "4.00"),
    ("FR", 3, 6, "0.75", "4.50"),
    ("IN", 2, 4, "0.25", "1.00"),
    ("US", 1, 2, "0.80", "1.60"),
]
REPRICED = [
    ("BR", 2, 4, "0.50", "2.00"),
    ("DE", 2, 4, "0.90", "3.60"),
    ("FR", 3, 6, "0.60", "3.60"),
    ("IN", 2, 4, "0.25", "1.00"),
    ("US", 1, 2, "0.80", "1.60"),
]
JAPAN, TOLL_FREE, SHORT = "+81 90-1234-5678", "+800 1234 5678", "+33 6 12"
DEADLINE = (START + timedelta(days=4)).isoformat()
LATER = START + timedelta(days=2)


@pytest.fixture
def app(ctx: pm.Context) -> FastAPI:
    return create_app(ctx, tick_interval_s=None)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # A server error must show as the 500 a client would get, so tests can say "never a 500".
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def op(ctx: pm.Context, client: TestClient) -> Caller:
    return Caller(client, mint(ctx, "operator"))


def open_account(op: Caller, ref: str, sms: str = "100.00", parent: str | None = None) -> str:
    body = {"ref": ref, "name": ref.title(), "email": f"sms@{ref}.test", "parent": parent}
    op.ok("POST", "/v1/accounts", body)
    grant = {"unit": "sms", "credits": sms, "reason": "prepaid"}
    op.ok("POST", f"/v1/accounts/{ref}/grants", grant)
    op.ok("POST", f"/v1/accounts/{ref}/grants", {"unit": "email", "credits": 1000, "reason": "r"})
    return ref


@pytest.fixture
def club(op: Caller) -> str:
    """An SMS customer with 100.00 SMS and 1,000 e-mail credits, under the card RATES."""
    op.ok("POST", "/v1/rate-cards/sms", {"rates": RATES})
    return open_account(op, "club")


def key_for(ctx: pm.Context, client: TestClient, ref: str, read_only: bool = False) -> Caller:
    return Caller(client, mint(ctx, f"{ref}-key", role="account", account=ref, read_only=read_only))


def lines(priced: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (x["country"], x["recipients"], x["parts"], x["rate"], x["credits"])
        for x in priced["lines"]
    ]


def sms(ref: str = "club", numbers: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A send (or a campaign, with a deadline) of TEXT to ``numbers`` (default TEN)."""
    return {
        "account": ref,
        "unit": "sms",
        "text": TEXT,
        "numbers": TEN if numbers is None else numbers,
        **extra,
    }


def quote(who: Caller, ref: str = "club", **fields: Any) -> httpx2.Response:
    """A quote: a read, though a POST (for its list), so without an Idempotency-Key."""
    return who.post("/v1/quotes", sms(ref, **fields), idempotent=False)


def balance(op: Caller, ref: str = "club") -> tuple[str, str, str]:
    summary = op.ok("GET", f"/v1/accounts/{ref}/balances/sms")
    return summary["balance"], summary["reserved"], summary["available"]


def refused(response: httpx2.Response, status: int, code: str, ctx: pm.Context) -> dict[str, Any]:
    """The problem of a refusal, with the books checked to balance."""
    body = problem(response, status, code)
    assert pm.verify(ctx).accounts >= 0
    return body


def version(effective_from: str, rates: dict[str, str], default: str | None = None) -> Any:
    return {
        "unit": "sms",
        "effective_from": effective_from,
        "rates": dict(sorted(rates.items())),
        "default": default,
    }


# -- rate cards ----------------------------------------------------------------------------------


def test_a_rate_card_is_set_shown_exported_and_replayed(op: Caller) -> None:
    body = {"rates": {"fr": "0.75", "DE": 1, "BR": "0.5"}, "default": "1.25"}
    made = op.post("/v1/rate-cards/sms", body, key="rates-1")
    assert made.status_code == 201, made.text
    expected = version(START.isoformat(), {"BR": "0.50", "DE": "1.00", "FR": "0.75"}, "1.25")
    assert made.json() == expected
    assert op.ok("GET", "/v1/rate-cards/sms") == {
        "unit": "sms",
        "in_force": expected,
        "versions": [expected],
    }
    exported = op.ok("GET", "/v1/rate-cards/sms/export")
    assert exported == {
        "unit": "sms",
        "effective_from": START.isoformat(),
        "csv": "country,credits\nBR,0.50\nDE,1.00\nFR,0.75\n*,1.25\n",
    }
    again = op.post("/v1/rate-cards/sms", body, key="rates-1")
    assert (again.status_code, again.json()) == (201, expected)
    assert again.headers["Idempotent-Replayed"] == "true"
    other = op.post("/v1/rate-cards/sms", {"rates": {"FR": "0.70"}}, key="rates-1")
    problem(other, 409, "idempotency_key_reused")


def test_a_csv_rate_card_takes_effect_on_its_date_and_exports_as_it_came(
    ctx: pm.Context, op: Caller
) -> None:
    problem(op.get("/v1/rate-cards/sms/export"), 404, "not_found")  # no card yet
    assert op.ok("GET", "/v1/rate-cards/sms") == {"unit": "sms", "in_force": None, "versions": []}
    op.ok("POST", "/v1/rate-cards/sms/import", {"csv": "FR,0.75\nDE,1.00\n"})
    spreadsheet = "\ufeffcountry,credits\r\nFR,0.70\r\n\r\n*,1.25\r\n"
    may = "2026-05-01T00:00:00+00:00"
    made = op.post("/v1/rate-cards/sms/import", {"csv": spreadsheet, "effective_from": may})
    assert made.status_code == 201, made.text
    assert made.json() == version(may, {"FR": "0.70"}, "1.25")
    now = op.ok("GET", "/v1/rate-cards/sms")
    assert now["in_force"] == version(START.isoformat(), {"FR": "0.75", "DE": "1.00"})
    assert [v["effective_from"] for v in now["versions"]] == [START.isoformat(), may]
    assert op.ok("GET", f"/v1/rate-cards/sms?at={may.replace('+', '%2B')}")["in_force"] == (
        made.json()
    )
    at_may = op.get("/v1/rate-cards/sms/export", {"at": may}).json()
    assert at_may["csv"] == "country,credits\nFR,0.70\n*,1.25\n"
    # What it exports, it imports again to the same card.
    june = "2026-06-01T00:00:00+00:00"
    back = op.ok(
        "POST", "/v1/rate-cards/sms/import", {"csv": at_may["csv"], "effective_from": june}
    )
    assert back == version(june, {"FR": "0.70"}, "1.25")
    before = op.get("/v1/rate-cards/sms/export", {"at": "2026-03-01T00:00:00Z"})
    problem(before, 404, "not_found")
    assert pm.verify(ctx).accounts == 0


BAD_CARDS: list[tuple[str, dict[str, Any], str, str]] = [
    ("/v1/rate-cards/sms", {"rates": {"XX": "1"}}, "invalid_input", "'XX' is not a country"),
    ("/v1/rate-cards/sms", {"rates": {"FR": 0.75}}, "invalid_input", "rates.FR"),
    ("/v1/rate-cards/sms", {"rates": {"FR": "0"}}, "invalid_amount", "rate for FR"),
    ("/v1/rate-cards/sms", {"rates": {"FR": "0.755"}}, "invalid_amount", "rate for FR"),
    ("/v1/rate-cards/sms", {"rates": {"FR": "-1"}}, "invalid_amount", "rate for FR"),
    ("/v1/rate-cards/sms", {"rates": {"FR": "1"}, "default": "1e3"}, "invalid_amount", "default"),
    ("/v1/rate-cards/sms", {"rates": {}}, "invalid_input", "at least one country"),
    ("/v1/rate-cards/sms", {"rates": {"fr": "1", "FR": "2"}}, "invalid_input", "FR is given"),
    ("/v1/rate-cards/sms", {"rates": {"FR": "1"}, "x": 1}, "invalid_input", "x"),
    (
        "/v1/rate-cards/sms",
        {"rates": {"FR": "1"}, "effective_from": "2026-03-01T00:00:00Z"},
        "invalid_input",
        "now or later",
    ),
    (
        "/v1/rate-cards/sms",
        {"rates": {"FR": "1"}, "effective_from": "2026-05-01T00:00:00"},
        "invalid_input",
        "effective_from",
    ),
    (
        "/v1/rate-cards/sms",
        {"rates": {"FR": "1"}, "effective_from": "9999-12-31T23:00:00-14:00"},
        "invalid_input",
        "out of range",
    ),
    ("/v1/rate-cards/sms/import", {"csv": "FR,abc\n"}, "invalid_input", "line 1"),
    ("/v1/rate-cards/sms/import", {"csv": "FR,1\nfr,2\n"}, "invalid_input", "line 2"),
    ("/v1/rate-cards/sms/import", {"csv": "FR,1,2\n"}, "invalid_input", "2 columns"),
    ("/v1/rate-cards/sms/import", {"csv": "ZZ,1\n"}, "invalid_input", "not a country"),
    ("/v1/rate-cards/sms/import", {"csv": ""}, "invalid_input", "at least one country"),
    ("/v1/rate-cards/sms/import", {"csv": 'FR,"1\n'}, "invalid_input", "line"),
    ("/v1/rate-cards/sms/import", {"csv": "FR,1\x00\n"}, "invalid_input", "line 1"),
    ("/v1/rate-cards/sms/import", {}, "invalid_input", "csv"),
]


@pytest.mark.parametrize(("path", "body", "code", "says"), BAD_CARDS, ids=lambda v: str(v)[:30])
def test_a_rate_card_refuses_bad_input_by_name(
    ctx: pm.Context, op: Caller, path: str, body: dict[str, Any], code: str, says: str
) -> None:
    before = books(ctx)
    body_ = refused(op.post(path, body), 422, code, ctx)
    assert says in body_["detail"], body_
    assert books_diff(before, books(ctx)) == {}


def test_rate_cards_are_the_operators_and_refuse_what_they_cannot_do(
    ctx: pm.Context, client: TestClient, op: Caller, club: str
) -> None:
    may = {"rates": {"FR": "0.70"}, "effective_from": "2026-05-01T00:00:00Z"}
    op.ok("POST", "/v1/rate-cards/sms", may)
    mine = key_for(ctx, client, club)
    reader = Caller(client, mint(ctx, "ops-ro", read_only=True))
    before = books(ctx)
    problem(op.post("/v1/rate-cards/sms", may), 409, "already_exists")
    problem(op.post("/v1/rate-cards/sms", {"rates": RATES}), 409, "already_exists")  # now again
    for path in ("/v1/rate-cards/bogus", "/v1/rate-cards/bogus/import"):
        problem(op.post(path, {"rates": RATES, "csv": "FR,1"}), 422, "invalid_input")
    problem(op.post("/v1/rate-cards/bogus", {"rates": RATES}), 404, "not_found")
    problem(op.post("/v1/rate-cards/bogus/import", {"csv": "FR,1"}), 404, "not_found")
    problem(op.get("/v1/rate-cards/bogus"), 404, "not_found")
    problem(op.get("/v1/rate-cards/bogus/export"), 404, "not_found")
    problem(op.get("/v1/rate-cards/s%00ms"), 404, "not_found")
    problem(op.get("/v1/rate-cards/sms", {"at": "2026-05-01T00:00:00"}), 422, "invalid_input")
    # Account keys neither read nor change prices; read-only keys change nothing.
    for who, code in ((mine, "operator_only"), (reader, "read_only_key")):
        problem(who.post("/v1/rate-cards/sms", {"rates": RATES}), 403, code)
        problem(who.post("/v1/rate-cards/sms/import", {"csv": "FR,1\n"}), 403, code)
    problem(mine.get("/v1/rate-cards/sms"), 403, "operator_only")
    problem(mine.get("/v1/rate-cards/sms/export"), 403, "operator_only")
    assert reader.get("/v1/rate-cards/sms/export").status_code == 200
    keyless = op.post("/v1/rate-cards/sms", {"rates": RATES}, idempotent=False)
    problem(keyless, 400, "idempotency_key_missing")
    assert books_diff(before, books(ctx)) == {}


# -- e-mail rates --------------------------------------------------------------------------------


def email_rate(account: str | None, plan: str | None, credits: str | None, source: str) -> Any:
    return {"account": account, "plan": plan, "unit": "email", "credits": credits, "source": source}


def test_an_email_costs_the_accounts_rate_else_its_plans_else_one_credit(
    op: Caller, club: str
) -> None:
    rate_path = f"/v1/accounts/{club}/email-rate"
    assert op.ok("GET", rate_path) == email_rate(club, None, "1", "default")
    plan = {"code": "news", "name": "News", "unit": "email", "credits": 100, "period": "monthly"}
    op.ok("POST", "/v1/plans", plan)
    assert op.send("PUT", "/v1/plans/news/email-rate", {"credits": 2}).json() == (
        email_rate(None, "news", "2", "plan")
    )
    op.ok("POST", f"/v1/accounts/{club}/subscriptions", {"plan": "news"})
    assert op.ok("GET", rate_path) == email_rate(club, None, "2", "plan")
    own = op.send("PUT", rate_path, {"credits": "3"})
    assert (own.status_code, own.json()) == (200, email_rate(club, None, "3", "account"))
    sent = op.ok("POST", "/v1/sends", {"account": club, "unit": "email", "recipients": 10})
    assert (sent["credits"], sent["rate"], sent["recipients"], sent["lines"]) == ("30", "3", 10, [])
    assert [(c["country"], c["credits"]) for c in sent["charges"]] == [(None, "30")]
    assert op.ok("PUT", rate_path, {"credits": None}) == email_rate(club, None, "2", "plan")
    assert op.ok("PUT", "/v1/plans/news/email-rate", {"credits": None}) == (
        email_rate(None, "news", None, "plan")
    )
    assert op.ok("GET", f"{rate_path}?unit=email") == email_rate(club, None, "1", "default")


def test_email_rates_are_the_operators_and_refuse_bad_input(
    ctx: pm.Context, client: TestClient, op: Caller, club: str
) -> None:
    plan = {"code": "news", "name": "News", "unit": "email", "credits": 100, "period": "monthly"}
    op.ok("POST", "/v1/plans", plan)
    mine = key_for(ctx, client, club)
    reader = Caller(client, mint(ctx, "ops-ro", read_only=True))
    before = books(ctx)
    rate_path = f"/v1/accounts/{club}/email-rate"
    for body, code in (
        ({"credits": 1.5}, "invalid_input"),
        ({"credits": "0"}, "invalid_amount"),
        ({"credits": "-2"}, "invalid_amount"),
        ({"credits": "1.5"}, "invalid_amount"),  # e-mail credits are whole
        ({}, "invalid_input"),
        ({"credits": 2, "plan": "news"}, "invalid_input"),
    ):
        problem(op.send("PUT", rate_path, body), 422, code)
        problem(op.send("PUT", "/v1/plans/news/email-rate", body), 422, code)
    problem(op.send("PUT", "/v1/accounts/nobody/email-rate", {"credits": 2}), 404, "not_found")
    problem(op.get("/v1/accounts/nobody/email-rate"), 404, "not_found")
    problem(op.send("PUT", "/v1/plans/nothing/email-rate", {"credits": 2}), 404, "not_found")
    problem(op.send("PUT", rate_path, {"credits": 2, "unit": "bogus"}), 404, "not_found")
    problem(op.get(rate_path, {"unit": "bogus"}), 404, "not_found")
    for who, code in ((mine, "operator_only"), (reader, "read_only_key")):
        problem(who.send("PUT", rate_path, {"credits": 2}), 403, code)
        problem(who.send("PUT", "/v1/plans/news/email-rate", {"credits": 2}), 403, code)
    problem(mine.get(rate_path), 403, "operator_only")
    assert reader.get(rate_path).status_code == 200
    keyless = op.send("PUT", rate_path, {"credits": 2}, idempotent=False)
    problem(keyless, 400, "idempotency_key_missing")
    assert books_diff(before, books(ctx)) == {}


# -- quotes --------------------------------------------------------------------------------------


def test_a_quote_prices_each_country_and_charges_nothing(
    ctx: pm.Context, client: TestClient, op: Caller, club: str
) -> None:
    mine, reader = key_for(ctx, client, club), key_for(ctx, client, club, read_only=True)
    before = books(ctx)
    quoted = quote(op).json()
    assert (quoted["credits"], quoted["recipients"], quoted["parts"]) == ("13.10", 10, 2)
    assert (quoted["encoding"], quoted["rate"], quoted["refused"]) == ("gsm7", None, [])
    assert (quoted["rates_from"], quoted["priced_at"]) == (START.isoformat(), START.isoformat())
    assert lines(quoted) == QUOTED
    # The account's own key (and a read-only one) quote its tree; national numbers need a region.
    assert quote(mine).json() == quoted
    national = quote(reader, numbers=["06 12 34 56 78"], region="fr")
    assert lines(national.json()) == [("FR", 1, 2, "0.75", "1.50")]
    mail = quote(op, unit="email", text=None, numbers=[], recipients=250).json()
    assert (mail["credits"], mail["rate"], mail["parts"], mail["lines"]) == ("250", "1", None, [])
    # A card to come prices the quotes at its date.
    op.ok("POST", "/v1/rate-cards/sms", {"rates": CHEAPER, "effective_from": LATER.isoformat()})
    later = quote(op, at=LATER.isoformat()).json()
    assert (later["credits"], lines(later)) == ("11.80", REPRICED)
    # Nothing was charged: only the new card was booked.
    assert set(books_diff(before, books(ctx))) <= {"rate_cards", "rates", "transactions"}


@pytest.mark.usefixtures("club")
def test_a_quote_lists_every_number_it_cannot_price(ctx: pm.Context, op: Caller) -> None:
    before = books(ctx)
    body = refused(quote(op, numbers=[*TEN, JAPAN, TOLL_FREE, SHORT]), 422, "unratable", ctx)
    assert body["recipients"] == [
        {"number": JAPAN, "reason": "no_rate", "country": "JP"},
        {"number": TOLL_FREE, "reason": "unknown_country"},
        {"number": SHORT, "reason": "invalid_number"},
    ]
    assert "3 of 13 recipients cannot be priced" in body["detail"]
    partial = quote(op, numbers=[*TEN, JAPAN, SHORT], partial=True).json()
    assert (partial["credits"], partial["recipients"]) == ("13.10", 10)
    assert partial["refused"] == [
        {"number": JAPAN, "reason": "no_rate", "country": "JP"},
        {"number": SHORT, "reason": "invalid_number", "country": None},
    ]
    # A quote of nothing priceable costs nothing (a send of it is refused, below).
    nothing = quote(op, numbers=[SHORT], partial=True).json()
    assert (nothing["credits"], nothing["recipients"], nothing["lines"]) == ("0.00", 0, [])
    assert books_diff(before, books(ctx)) == {}


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"text": ""}, 422, "invalid_input"),  # an empty text
        ({"text": None, "numbers": []}, 422, "invalid_input"),  # neither text nor recipients
        ({"recipients": 3}, 422, "invalid_input"),  # both
        ({"numbers": None}, 422, "invalid_input"),  # a list of numbers, or none
        ({"numbers": [TEN[0], 33612345678]}, 422, "invalid_input"),  # numbers are text
        ({"region": "ZZ"}, 422, "invalid_input"),
        ({"text": "Hi\x00"}, 422, "invalid_input"),
        ({"text": "Hi \ud83d"}, 422, "invalid_input"),  # a lone surrogate
        ({"text": "€" * 20_000}, 422, "invalid_input"),  # more than 255 parts
        ({"partial": "yes"}, 422, "invalid_input"),
        ({"recipients": 0, "text": None, "numbers": []}, 422, "invalid_input"),
        ({"recipients": 2.5, "text": None, "numbers": []}, 422, "invalid_input"),
        ({"account": "nobody"}, 404, "not_found"),
        ({"at": "2026-04-01T09:00:00"}, 422, "invalid_input"),  # no offset
        ({"at": "0001-01-01T00:00:00+14:00"}, 422, "invalid_input"),
        ({"at": "2026-03-01T00:00:00Z"}, 404, "not_found"),  # before any card
        ({"unit": "bogus"}, 404, "not_found"),
        ({"unit": "email"}, 404, "not_found"),  # no e-mail rate card for SMS
    ],
    ids=lambda v: str(v)[:30],
)
@pytest.mark.usefixtures("club")
def test_a_quote_refuses_what_it_cannot_price(
    ctx: pm.Context, op: Caller, fields: dict[str, Any], status: int, code: str
) -> None:
    before = books(ctx)
    body = {**sms(), **fields}
    refused(post_raw(op.client, op.secret or "", "/v1/quotes", body), status, code, ctx)
    assert books_diff(before, books(ctx)) == {}


def test_a_quote_outside_the_callers_tree_is_not_found(
    ctx: pm.Context, client: TestClient, op: Caller, club: str
) -> None:
    rival = key_for(ctx, client, open_account(op, "rival"))
    hidden, absent = quote(rival, club), quote(rival, "nobody")
    assert problem(hidden, 404, "not_found")["detail"] == "no account 'club'"
    problem(absent, 404, "not_found")
    problem(quote(op, "nobody"), 404, "not_found")
    # Any key may quote in its tree, read-only ones too; an Idempotency-Key is not needed.
    kid = key_for(ctx, client, open_account(op, "kid", parent=club), read_only=True)
    assert quote(kid, "kid").status_code == 200
    problem(quote(kid, club), 404, "not_found")  # a child does not see its parent


# -- sends ---------------------------------------------------------------------------------------


def test_ten_recipients_in_five_countries_cost_more_than_ten_credits_charged_per_country(
    ctx: pm.Context, client: TestClient, op: Caller, club: str
) -> None:
    mine = key_for(ctx, client, club)
    sent = mine.post("/v1/sends", sms(reference="race-day"), key="race-1")
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert (body["credits"], body["recipients"], body["parts"]) == ("13.10", 10, 2)
    assert lines(body) == QUOTED
    charged = [(c["country"], c["credits"], c["balance"]) for c in body["charges"]]
    assert charged == [
        ("BR", "2.00", "98.00"),
        ("DE", "4.00", "94.00"),
        ("FR", "4.50", "89.50"),
        ("IN", "1.00", "88.50"),
        ("US", "1.60", "86.90"),
    ]
    assert (body["balance"], body["available"]) == ("86.90", "86.90")
    journal = op.ok("GET", f"/v1/journal?account={club}&kind=charge")["items"]
    assert [(e["key"], e["delta"]) for e in journal] == [
        ("race-1:BR", "-2.00"),
        ("race-1:DE", "-4.00"),
        ("race-1:FR", "-4.50"),
        ("race-1:IN", "-1.00"),
        ("race-1:US", "-1.60"),
    ]
    assert journal[2]["reason"] == "sms to FR: 3 recipients x 2 parts at 0.75 (race-day)"
    # The same request again replays the first answer and charges nothing more.
    before = books(ctx)
    again = mine.post("/v1/sends", sms(reference="race-day"), key="race-1")
    assert (again.status_code, again.json()) == (201, body)
    assert again.headers["Idempotent-Replayed"] == "true"
    problem(mine.post("/v1/sends", sms(), key="race-1"), 409, "idempotency_key_reused")
    assert books_diff(before, books(ctx)) == {}
    assert balance(op) == ("86.90", "0.00", "86.90")


@pytest.mark.usefixtures("club")
def test_a_partial_send_charges_the_numbers_it_can_price_and_lists_the_others(
    ctx: pm.Context, op: Caller
) -> None:
    numbers = ["+33612345678", "+4915123456789", SHORT]
    sent = op.post("/v1/sends", sms(numbers=numbers, text="Results are online.", partial=True))
    assert sent.status_code == 201, sent.text
    done = sent.json()
    assert [(c["country"], c["credits"]) for c in done["charges"]] == [
        ("DE", "1.00"),
        ("FR", "0.75"),
    ]
    assert done["refused"] == [{"number": SHORT, "reason": "invalid_number", "country": None}]
    assert balance(op) == ("98.25", "0.00", "98.25")
    assert pm.verify(ctx).entries > 0


def test_a_send_refuses_as_a_whole_and_charges_nothing(
    ctx: pm.Context, client: TestClient, op: Caller, club: str
) -> None:
    poor = open_account(op, "poor", sms="1.00")
    rival = key_for(ctx, client, open_account(op, "rival"))
    suspended = open_account(op, "suspended")
    op.ok("POST", f"/v1/accounts/{suspended}/status", {"status": "suspended", "reason": "unpaid"})
    reader = key_for(ctx, client, club, read_only=True)
    before = books(ctx)
    # The refusal says what the whole send lacks: 13.10 for 1.00 (nothing of it is booked).
    short = refused(op.post("/v1/sends", sms(poor)), 402, "insufficient_credits", ctx)
    assert (short["account"], short["shortfall"], short["available"]) == (poor, "12.10", "1.00")
    unratable = refused(op.post("/v1/sends", sms(numbers=[*TEN, JAPAN])), 422, "unratable", ctx)
    assert unratable["recipients"] == [{"number": JAPAN, "reason": "no_rate", "country": "JP"}]
    none_priced = sms(numbers=[SHORT], partial=True)
    refused(op.post("/v1/sends", none_priced), 422, "unratable", ctx)
    refused(op.post("/v1/sends", sms(suspended)), 403, "account_inactive", ctx)
    for body, code in (
        (sms(text=""), "invalid_input"),
        (sms(text="Hi\x00"), "invalid_input"),
        (sms(numbers=["+33\x00612345678"]), "invalid_input"),
        (sms(region="ZZ"), "invalid_input"),
        (sms(recipients=3), "invalid_input"),
        ({"account": club, "unit": "email", "recipients": 2.5}, "invalid_input"),
        ({"account": club, "unit": "email", "recipients": 0}, "invalid_input"),
        ({"account": club, "unit": "email", "recipients": 2, "numbers": TEN}, "invalid_input"),
        ({"account": club, "unit": "sms"}, "invalid_input"),
        (sms(reference="tab\there"), "invalid_input"),
        (sms(credits="1.00"), "invalid_input"),  # callers say what they send, not its cost
    ):
        refused(op.post("/v1/sends", body), 422, code, ctx)
    # Each country's charge is booked under KEY:CC: the key leaves room for the suffix.
    refused(op.post("/v1/sends", sms(), key="k" * 198), 422, "invalid_input", ctx)
    refused(op.post("/v1/sends", sms(unit="bogus")), 404, "not_found", ctx)
    refused(op.post("/v1/sends", sms("nobody")), 404, "not_found", ctx)
    refused(op.post("/v1/sends", sms(sender="nobody.example")), 404, "not_found", ctx)
    # Another tree's key cannot tell the account from a missing one.
    hidden = refused(rival.post("/v1/sends", sms()), 404, "not_found", ctx)
    absent = refused(rival.post("/v1/sends", sms("nobody")), 404, "not_found", ctx)
    assert hidden["detail"].replace("club", "?") == absent["detail"].replace("nobody", "?")
    refused(reader.post("/v1/sends", sms()), 403, "read_only_key", ctx)
    refused(op.post("/v1/sends", sms(), idempotent=False), 400, "idempotency_key_missing", ctx)
    assert books_diff(before, books(ctx)) == {}


# -- packages per country ------------------------------------------------------------------------


def test_the_packages_table_says_how_many_sms_each_package_buys_per_country(
    ctx: pm.Context, client: TestClient, op: Caller, club: str
) -> None:
    for code, credits in (("sms-1000", 1000), ("sms-5000", 5000)):
        package = {"code": code, "name": code, "unit": "sms", "credits": credits, "price": "60"}
        op.ok("POST", "/v1/packages", {**package, "validity_months": 24})
    table = key_for(ctx, client, club, read_only=True).get("/v1/packages-per-country?unit=sms")
    assert table.status_code == 200, table.text
    found = table.json()
    assert (found["unit"], found["rates_from"], found["default"]) == (
        "sms",
        START.isoformat(),
        None,
    )
    assert found["rates"] == dict(sorted(RATES.items()))
    assert [(p["package"], p["credits"], p["sms"]) for p in found["items"]] == [
        ("sms-1000", "1000.00", {"BR": 2000, "DE": 1000, "FR": 1333, "IN": 4000, "US": 1250}),
        ("sms-5000", "5000.00", {"BR": 10000, "DE": 5000, "FR": 6666, "IN": 20000, "US": 6250}),
    ]
    op.ok(
        "POST",
        "/v1/rate-cards/sms",
        {"rates": {"FR": "2"}, "default": "4", "effective_from": LATER.isoformat()},
    )
    later = op.get("/v1/packages-per-country", {"unit": "sms", "at": LATER.isoformat()}).json()
    assert next(p["sms"] for p in later["items"]) == {"FR": 500, "*": 250}
    for params, status, code in (
        ({"unit": "bogus"}, 404, "not_found"),
        ({"unit": "email"}, 404, "not_found"),  # no card for e-mail
        ({"unit": "sms", "at": "2026-03-01T00:00:00Z"}, 404, "not_found"),
        ({"unit": "sms", "at": "soon"}, 422, "invalid_input"),
        ({}, 422, "invalid_input"),
    ):
        problem(op.get("/v1/packages-per-country", params), status, code)


# -- campaigns -----------------------------------------------------------------------------------


def schedule(who: Caller, ref: str = "club", **extra: Any) -> httpx2.Response:
    return who.post("/v1/campaigns", sms(ref, deadline_at=DEADLINE, **extra))


def test_a_campaign_holds_its_quote_and_captures_at_the_card_in_force_when_sent(
    ctx: pm.Context, clock: pm.FixedClock, client: TestClient, op: Caller, club: str
) -> None:
    mine = key_for(ctx, client, club)
    made = schedule(mine, reference="race-day")
    assert made.status_code == 201, made.text
    campaign = made.json()
    assert (campaign["status"], campaign["reserved"], campaign["captured"]) == (
        "scheduled", "13.10", None,
    )  # fmt: skip
    assert (campaign["numbers"], campaign["reference"], campaign["sent_quote"]) == (
        TEN, "race-day", None,
    )  # fmt: skip
    assert lines(campaign["quote"]) == QUOTED
    assert balance(op) == ("100.00", "13.10", "86.90")  # available = balance - reserved
    # A cheaper card takes effect before the campaign goes out.
    op.ok("POST", "/v1/rate-cards/sms", {"rates": CHEAPER, "effective_from": LATER.isoformat()})
    clock.set(LATER + timedelta(hours=8))
    sent = mine.post(f"/v1/campaigns/{campaign['id']}/send", key="race-send")
    assert sent.status_code == 200, sent.text
    done = sent.json()
    assert (done["status"], done["reserved"], done["captured"]) == ("sent", "13.10", "11.80")
    assert done["quote"] == campaign["quote"]
    assert lines(done["sent_quote"]) == REPRICED
    assert done["sent_quote"]["rates_from"] == LATER.isoformat()
    assert balance(op) == ("88.20", "0.00", "88.20")  # the 1.30 left over went back
    journal = op.ok("GET", f"/v1/journal?account={club}")["items"]
    assert [(e["kind"], e["delta"], e["held_delta"]) for e in journal[-3:]] == [
        ("hold", "0.00", "13.10"),
        ("capture", "-11.80", "-11.80"),
        ("release", "0.00", "-1.30"),
    ]
    assert mine.ok("GET", f"/v1/campaigns/{campaign['id']}") == done
    assert mine.ok("GET", f"/v1/accounts/{club}/campaigns") == {"items": [done]}
    # A replay answers the same; sending or cancelling it again is a conflict.
    again = mine.post(f"/v1/campaigns/{campaign['id']}/send", key="race-send")
    assert (again.status_code, again.json()) == (200, done)
    before = books(ctx)
    refused(mine.post(f"/v1/campaigns/{campaign['id']}/send"), 409, "invalid_state", ctx)
    refused(mine.post(f"/v1/campaigns/{campaign['id']}/cancel"), 409, "invalid_state", ctx)
    assert books_diff(before, books(ctx)) == {}


@pytest.mark.usefixtures("club")
def test_a_dearer_card_at_sending_draws_beyond_the_hold_or_says_what_is_missing(
    ctx: pm.Context, clock: pm.FixedClock, op: Caller
) -> None:
    first = schedule(op).json()
    second = schedule(op).json()
    assert balance(op) == ("100.00", "26.20", "73.80")
    dearer = dict.fromkeys(RATES, "4.00")
    op.ok("POST", "/v1/rate-cards/sms", {"rates": dearer, "effective_from": LATER.isoformat()})
    clock.set(LATER)
    done = op.ok("POST", f"/v1/campaigns/{first['id']}/send")
    assert (done["reserved"], done["captured"], done["sent_quote"]["credits"]) == (
        "13.10", "80.00", "80.00",
    )  # fmt: skip
    assert balance(op) == ("20.00", "13.10", "6.90")  # 66.90 drawn beyond the hold
    # The second one lacks 66.90 beyond its hold with 6.90 available: refused, still held.
    before = books(ctx)
    short = refused(op.post(f"/v1/campaigns/{second['id']}/send"), 402, "insufficient_credits", ctx)
    assert (short["shortfall"], short["available"]) == ("60.00", "6.90")
    assert op.ok("GET", f"/v1/campaigns/{second['id']}")["status"] == "scheduled"
    assert set(books_diff(before, books(ctx))) <= {"campaigns", "transactions"}  # its price
    assert op.ok("POST", f"/v1/campaigns/{second['id']}/cancel")["status"] == "cancelled"
    assert balance(op) == ("20.00", "0.00", "20.00")


@pytest.mark.usefixtures("club")
def test_a_cancelled_or_expired_campaign_gives_back_what_it_held(
    ctx: pm.Context, clock: pm.FixedClock, op: Caller
) -> None:
    cancelled = schedule(op).json()
    expiring = schedule(op, text="Hi").json()
    assert expiring["reserved"] == "6.55"
    done = op.post(f"/v1/campaigns/{cancelled['id']}/cancel", key="call-off")
    assert (done.status_code, done.json()["status"]) == (200, "cancelled")
    assert op.post(f"/v1/campaigns/{cancelled['id']}/cancel", key="call-off").json() == done.json()
    assert balance(op) == ("100.00", "6.55", "93.45")
    clock.set(START + timedelta(days=5))
    assert op.ok("POST", "/v1/tick")["timeouts"] == 1
    assert op.ok("GET", f"/v1/campaigns/{expiring['id']}")["status"] == "expired"
    assert balance(op) == ("100.00", "0.00", "100.00")
    for campaign in (cancelled, expiring):
        refused(op.post(f"/v1/campaigns/{campaign['id']}/send"), 409, "invalid_state", ctx)
    statuses = [c["status"] for c in op.ok("GET", "/v1/accounts/club/campaigns")["items"]]
    assert statuses == ["cancelled", "expired"]


@pytest.mark.usefixtures("club")
def test_a_campaign_past_its_deadline_is_not_sent(
    ctx: pm.Context, clock: pm.FixedClock, op: Caller
) -> None:
    held = schedule(op).json()
    clock.set(START + timedelta(days=4, seconds=1))  # deadline passed; tick has not run yet
    refused(op.post(f"/v1/campaigns/{held['id']}/send"), 409, "invalid_state", ctx)
    assert op.ok("GET", f"/v1/campaigns/{held['id']}")["status"] == "scheduled"


def test_scheduling_refuses_what_it_cannot_hold(
    ctx: pm.Context, client: TestClient, op: Caller, club: str
) -> None:
    poor = open_account(op, "poor", sms="1.00")
    reader = key_for(ctx, client, club, read_only=True)
    before = books(ctx)
    short = refused(schedule(op, poor), 402, "insufficient_credits", ctx)
    assert short["shortfall"] == "12.10"
    body = refused(schedule(op, numbers=[*TEN, SHORT]), 422, "unratable", ctx)
    assert body["recipients"] == [{"number": SHORT, "reason": "invalid_number"}]
    for extra in (
        {"deadline_at": "2026-03-01T00:00:00Z"},  # past
        {"deadline_at": "2028-01-01T00:00:00Z"},  # beyond a year
        {"deadline_at": "2026-04-05T00:00:00"},  # no offset
        {"sender": "list-1"},  # a campaign holds its account's credits
        {"text": ""},
        {"reference": "\x07"},
    ):
        response = op.post("/v1/campaigns", {**sms(deadline_at=DEADLINE), **extra})
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["code"] in ("invalid_input", "invalid_amount"), response.text
    refused(schedule(op, "nobody"), 404, "not_found", ctx)
    refused(schedule(op, unit="bogus"), 404, "not_found", ctx)
    refused(schedule(reader), 403, "read_only_key", ctx)
    keyless = op.post("/v1/campaigns", sms(deadline_at=DEADLINE), idempotent=False)
    refused(keyless, 400, "idempotency_key_missing", ctx)
    assert books_diff(before, books(ctx)) == {}


def test_another_trees_campaign_is_indistinguishable_from_a_missing_one(
    ctx: pm.Context, client: TestClient, op: Caller, club: str
) -> None:
    held = schedule(op).json()["id"]
    rival = key_for(ctx, client, open_account(op, "rival"))
    kid = key_for(ctx, client, open_account(op, "kid", parent=club))
    before = books(ctx)
    for who in (rival, kid):
        for method, template in (
            ("GET", "/v1/campaigns/{}"),
            ("POST", "/v1/campaigns/{}/send"),
            ("POST", "/v1/campaigns/{}/cancel"),
        ):
            hidden = who.send(method, template.format(held))
            absent = who.send(method, template.format(held + 1000))
            assert problem(hidden, 404, "not_found")["detail"] == f"no campaign {held}"
            assert problem(absent, 404, "not_found")["detail"] == f"no campaign {held + 1000}"
        problem(who.get(f"/v1/accounts/{club}/campaigns"), 404, "not_found")
        problem(schedule(who), 404, "not_found")
    for big in (0, -1, 2**31, 2**63, 10**20):
        for method, template in (("GET", "/v1/campaigns/{}"), ("POST", "/v1/campaigns/{}/send")):
            assert op.send(method, template.format(big)).status_code in (404, 422)
    problem(op.get("/v1/campaigns/one"), 422, "invalid_input")
    problem(op.get("/v1/accounts/nobody/campaigns"), 404, "not_found")
    assert books_diff(before, books(ctx)) == {}
    # The parent's key reaches its child's campaigns.
    kid_held = schedule(op, "kid", numbers=TEN[:1], text="Hi").json()["id"]
    assert key_for(ctx, client, club).ok("POST", f"/v1/campaigns/{kid_held}/cancel")["status"] == (
        "cancelled"
    )


# -- random input never gets a server error ------------------------------------------------------

ANY_CHARACTER = st.characters(exclude_categories=())  # lone surrogates and NUL included
AWKWARD = [*"Hi é{}[]~€^|\\\f\n@", "\x00", "\ud83d", "\U0001f600", "\u0301", "\u200d"]
TEXTS = st.text(ANY_CHARACTER, max_size=300) | st.text(st.sampled_from(AWKWARD), max_size=200)
WILD = (
    st.sampled_from(["+33612345678", "+4915123456789", "06 12 34 56 78", TOLL_FREE, SHORT, ""])
    | st.from_regex(r"\+?[0-9 ().-]{0,18}", fullmatch=True)
    | st.text(ANY_CHARACTER, max_size=25)
)
NUMBERS = st.lists(WILD, max_size=5)
REGIONS = st.none() | st.sampled_from(["FR", "fr", "ZZ"]) | st.text(ANY_CHARACTER, max_size=3)
_fuzz_keys = itertools.count(1)


def post_raw(client: TestClient, secret: str, path: str, body: dict[str, Any]) -> httpx2.Response:
    """POST ``body`` as ASCII JSON, so lone surrogates travel as ``\\ud83d`` escapes."""
    headers = {**bearer(secret), "Idempotency-Key": f"fuzz-{next(_fuzz_keys)}"}
    headers["Content-Type"] = "application/json"
    return client.post(path, content=json.dumps(body), headers=headers)


def answered_or_refused(response: httpx2.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM), response.text
        assert response.json()["code"], response.text


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=TEXTS, numbers=NUMBERS, region=REGIONS, partial=st.booleans())
@example(text="Hi\x00", numbers=["+33612345678"], region=None, partial=False)
@example(text="Hi \ud83d", numbers=["+33612345678"], region=None, partial=False)
@example(text="Hi", numbers=["+33612345678", "+33\x00612", "\udcff"], region="FR", partial=True)
@example(text="€" * 5000, numbers=["+33612345678"], region=None, partial=False)
def test_random_texts_and_numbers_through_the_api_never_get_a_server_error(
    ctx: pm.Context,
    client: TestClient,
    op: Caller,
    club: str,
    text: str,
    numbers: list[str],
    region: str | None,
    partial: bool,
) -> None:
    secret = op.secret or ""
    message = {"text": text, "numbers": numbers, "region": region, "partial": partial}
    answered_or_refused(
        post_raw(client, secret, "/v1/sends", {"account": club, "unit": "sms", **message})
    )
    campaign = {"account": club, "unit": "sms", "deadline_at": DEADLINE, **message}
    answered_or_refused(post_raw(client, secret, "/v1/campaigns", campaign))
    quoted = post_raw(client, secret, "/v1/quotes", {"account": club, "unit": "sms", **message})
    answered_or_refused(quoted)
    assert pm.verify(ctx).accounts >= 1
