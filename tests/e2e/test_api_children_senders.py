"""Issue 4 through the HTTP API, on SQLite and PostgreSQL: senders (AcyMailing's capped domains,
the SMS platform's assigned lists, statuses by owner and operator, outcomes and dedicated IPs)
and child accounts (transfers, take-backs, their history, the reseller's books, moves).

Every route: its happy path, then each class of error it answers, as problem+json with its own
code, and a refusal never changes the books.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

import postmeter as pm
from postmeter.api.app import create_app
from tests.support.api import Caller, books, books_diff, mint, problem

MAIL = "mail.acy.test"


@dataclass
class Api:
    ctx: pm.Context
    client: TestClient
    op: Caller

    def key(self, account: str, *, read_only: bool = False) -> Caller:
        """An account key of ``account``."""
        name = f"{account}-{'ro' if read_only else 'rw'}"
        secret = mint(self.ctx, name, role="account", account=account, read_only=read_only)
        return Caller(self.client, secret)

    def account(self, ref: str, parent: str | None = None, *, by: Caller | None = None) -> None:
        body = {"ref": ref, "name": ref.title(), "email": f"{ref}@x.test", "parent": parent}
        (by or self.op).ok("POST", "/v1/accounts", body)

    def give(self, ref: str, unit: str, credits: str | int) -> None:
        body = {"unit": unit, "credits": credits, "reason": "test credits"}
        self.op.ok("POST", f"/v1/accounts/{ref}/grants", body)


@pytest.fixture
def api(ctx: pm.Context) -> Iterator[Api]:
    with TestClient(create_app(ctx, tick_interval_s=None), raise_server_exceptions=False) as c:
        yield Api(ctx, c, Caller(c, mint(ctx, "operator")))


@pytest.fixture
def acy(api: Api) -> Caller:
    """The account ``acy`` with 20,000 e-mail and 100.00 SMS credits; its owner's key."""
    api.account("acy")
    api.give("acy", "email", 20_000)
    api.give("acy", "sms", "100.00")
    return api.key("acy")


@pytest.fixture
def trees(api: Api) -> Api:
    """Two trees: ``p`` with the child ``kid`` (and its child ``grandkid``), and ``other``.
    ``p`` holds 100 e-mail credits, ``other`` 10."""
    for ref, parent in (("p", None), ("kid", "p"), ("grandkid", "kid"), ("other", None)):
        api.account(ref, parent)
    api.give("p", "email", 100)
    api.give("other", "email", 10)
    return api


def at(clock: pm.FixedClock, iso: str) -> None:
    clock.set(datetime.fromisoformat(iso).astimezone(UTC))


def walk(who: Caller, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following ``next_cursor`` to the end."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = who.get(path, query)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= limit
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ran out")


def foreign_cursor(tag: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{tag}:{position}".encode()).decode()


def send(who: Caller, account: str, credits: int, sender: str | None = None) -> Any:
    body = {"account": account, "unit": "email", "credits": credits, "sender": sender}
    return who.post("/v1/charges", {k: v for k, v in body.items() if v is not None})


# -- the seed stories ------------------------------------------------------------------------------


def test_the_white_label_books_to_the_credit(clock: pm.FixedClock, api: Api) -> None:
    op = api.op
    at(clock, "2026-03-12T09:00:00+00:00")
    plan = {"code": "wl-1m", "name": "White Label 1M", "unit": "email", "credits": 1_000_000}
    op.ok("POST", "/v1/plans", {**plan, "period": "monthly", "seats": 50, "dedicated_ips": 2})
    reseller = {"ref": "reseller", "name": "R", "email": "r@r.test", "timezone": "Europe/Paris"}
    op.ok("POST", "/v1/accounts", reseller)
    op.ok("POST", "/v1/accounts/reseller/subscriptions", {"plan": "wl-1m", "anchor_day": 12})
    key = api.key("reseller")
    for child in ("client-a", "client-b"):
        api.account(child, "reseller", by=key)
    give = key.ok("POST", "/v1/accounts/reseller/transfers",
                  {"child": "client-a", "unit": "email", "credits": 300_000})  # fmt: skip
    assert (give["credits"], give["parent_available"], give["child_balance"]) == (
        "300000", "700000", "300000",
    )  # fmt: skip
    assert give["drawn"] == [{"lot_id": 1, "credits": "300000"}]
    key.ok("POST", "/v1/accounts/reseller/transfers",
           {"child": "client-b", "unit": "email", "credits": "200000"})  # fmt: skip
    key.ok("POST", "/v1/charges", {"account": "client-a", "unit": "email", "credits": 120_000})
    key.ok("POST", "/v1/charges", {"account": "client-b", "unit": "email", "credits": 80_000})
    at(clock, "2026-04-09T12:00:00+02:00")
    books_ = key.ok("GET", "/v1/accounts/reseller/reseller/email")
    assert [books_[k] for k in "abcd"] == ["1000000", "500000", "300000", "200000"]
    assert (books_["plan"], books_["plan_name"]) == ("wl-1m", "White Label 1M")
    assert (books_["users_created"], books_["users_allowed"], books_["dedicated_ips"]) == (2, 50, 2)
    assert books_["renews_at"] == "2026-04-11T22:00:00+00:00"
    before = books(api.ctx)
    refused = key.post("/v1/accounts/reseller/take-backs",
                       {"child": "client-b", "unit": "email", "credits": 200_000})  # fmt: skip
    body = problem(refused, 402, "insufficient_credits")
    assert (body["shortfall"], body["available"]) == ("80000", "120000")
    assert books_diff(before, books(api.ctx)) == {}
    at(clock, "2026-04-12T00:00:00+02:00")
    op.ok("POST", "/v1/tick")
    books_ = key.ok("GET", "/v1/accounts/reseller/reseller/email")
    assert [books_[k] for k in "abcd"] == ["1000000", "700000", "300000", "0"]
    back = key.ok("POST", "/v1/accounts/reseller/take-backs",
                  {"child": "client-b", "unit": "email", "credits": 100_000})  # fmt: skip
    assert (back["credits"], back["child_balance"], back["parent_available"]) == (
        "-100000", "20000", "800000",
    )  # fmt: skip
    history = key.ok("GET", "/v1/accounts/reseller/transfers")["items"]
    assert [(h["child"], h["child_email"], h["child_name"], h["credits"]) for h in history] == [
        ("client-a", "client-a@x.test", "Client-A", "300000"),
        ("client-b", "client-b@x.test", "Client-B", "200000"),
        ("client-b", "client-b@x.test", "Client-B", "-100000"),
    ]
    assert history[0]["at"] == "2026-03-12T09:00:00+00:00"
    assert {h["actor"] for h in history} == {f"key:{key.secret.split('_')[1]}"}  # type: ignore[union-attr]
    assert op.ok("GET", "/v1/verify")["ok"] is True


def test_acymailings_capped_domains_share_one_pool(clock: pm.FixedClock, api: Api) -> None:
    """A pool of 20,000 per 30 days; domain caps 5,000, 8,000 and 7,000: a domain at its cap is
    refused with that reason while the others send, a blocked domain is refused, and the caps
    start again with the period."""
    op = api.op
    at(clock, "2026-03-28T09:00:00+00:00")
    plan = {"code": "acy-20k", "name": "Acy", "unit": "email", "credits": 20_000}
    op.ok("POST", "/v1/plans", {**plan, "period": "days", "period_days": 30})
    api.account("licence")
    op.ok("POST", "/v1/accounts/licence/subscriptions", {"plan": "acy-20k"})
    owner = api.key("licence")
    caps = {"d1.test": 5_000, "d2.test": 8_000, "d3.test": 7_000}
    for name, cap in caps.items():
        made = owner.ok("POST", "/v1/accounts/licence/senders",
                        {"name": name, "unit": "email", "mode": "cap", "limit": cap})  # fmt: skip
        assert (made["mode"], made["cap"], made["cap_used"]) == ("cap", str(cap), "0")
    at(clock, "2026-04-02T10:00:00+00:00")
    assert send(owner, "licence", 5_000, "d1.test").status_code == 201
    before = books(api.ctx)
    capped = problem(send(owner, "licence", 200, "d1.test"), 403, "cap_reached")
    assert capped["sender"] == "d1.test"
    assert books_diff(before, books(api.ctx)) == {}
    assert send(owner, "licence", 8_000, "d2.test").status_code == 201
    assert send(owner, "licence", 6_000, "d3.test").status_code == 201
    op.ok("POST", "/v1/accounts/licence/senders/d3.test/status",
          {"action": "block", "reason": "spam complaints"})  # fmt: skip
    problem(send(owner, "licence", 500, "d3.test"), 403, "sender_inactive")
    listed = owner.ok("GET", "/v1/accounts/licence/senders")["items"]
    assert [(s["name"], s["cap_used"], s["status"]) for s in listed] == [
        ("d1.test", "5000", "active"),
        ("d2.test", "8000", "active"),
        ("d3.test", "6000", "blocked"),
    ]
    at(clock, "2026-04-27T09:00:00+00:00")
    op.ok("POST", "/v1/tick")
    listed = owner.ok("GET", "/v1/accounts/licence/senders")["items"]
    assert [s["cap_used"] for s in listed] == ["0", "0", "0"]
    assert send(owner, "licence", 5_000, "d1.test").json()["balance"] == "15000"
    problem(send(owner, "licence", 1, "d3.test"), 403, "sender_inactive")
    assert op.ok("GET", "/v1/verify")["ok"] is True


def test_the_bad_input_of_issue_4_each_refused_with_its_own_code(trees: Api) -> None:
    """A transfer to another tree, more than the child holds, to a suspended child, a cap below
    zero, a cycle in the tree: each its own error, and nothing changes."""
    op = trees.op
    op.ok("POST", "/v1/accounts/p/transfers", {"child": "kid", "unit": "email", "credits": 30})
    op.ok("POST", "/v1/accounts/p/senders", {"name": MAIL, "unit": "email"})
    op.ok("POST", "/v1/accounts/grandkid/status", {"status": "suspended", "reason": "unpaid"})
    cases = [
        ("POST", "/v1/accounts/p/transfers", {"child": "other", "unit": "email", "credits": 1},
         403, "outside_tree"),
        ("POST", "/v1/accounts/p/take-backs", {"child": "kid", "unit": "email", "credits": 31},
         402, "insufficient_credits"),
        ("POST", "/v1/accounts/kid/transfers",
         {"child": "grandkid", "unit": "email", "credits": 1}, 403, "account_inactive"),
        ("POST", "/v1/accounts/p/senders",
         {"name": "d2.test", "unit": "email", "mode": "cap", "limit": -1}, 422, "invalid_amount"),
        ("POST", f"/v1/accounts/p/senders/{MAIL}/sharing", {"mode": "cap", "limit": "-5"},
         422, "invalid_amount"),
        ("POST", "/v1/accounts/p/move", {"parent": "grandkid"}, 422, "invalid_input"),
    ]  # fmt: skip
    mine = trees.key("p")
    before = books(trees.ctx)
    for method, path, body, status, code in cases:
        answer = problem(op.send(method, path, body), status, code)
        assert "cycle" not in code or "loop" in answer["detail"]
    assert books_diff(before, books(trees.ctx)) == {}
    assert len({code for *_, code in cases}) == 5  # the two caps share theirs
    # An account key does not even learn that another tree exists.
    elsewhere = {"child": "other", "unit": "email", "credits": 1}
    problem(mine.post("/v1/accounts/p/transfers", elsewhere), 404, "not_found")
    problem(mine.post("/v1/accounts/kid/move", {"parent": "other"}), 404, "not_found")
    assert books_diff(before, books(trees.ctx)) == {}


# -- transfers and take-backs --------------------------------------------------------------------


def test_a_transfer_is_booked_once_per_key_and_needs_one(trees: Api) -> None:
    mine = trees.key("p")
    body = {"child": "kid", "unit": "email", "credits": 40, "reason": "april"}
    first = mine.post("/v1/accounts/p/transfers", body, key="give-1")
    assert first.status_code == 201, first.text
    assert (first.json()["child_available"], first.json()["parent_balance"]) == ("40", "60")
    again = mine.post("/v1/accounts/p/transfers", body, key="give-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    reader, kid = trees.key("p", read_only=True), trees.key("kid")
    before = books(trees.ctx)
    problem(mine.post("/v1/accounts/p/transfers", {**body, "credits": 41}, key="give-1"), 409,
            "idempotency_key_reused")  # fmt: skip
    problem(mine.post("/v1/accounts/p/transfers", body, idempotent=False), 400,
            "idempotency_key_missing")  # fmt: skip
    problem(reader.post("/v1/accounts/p/transfers", body), 403, "read_only_key")
    problem(reader.post("/v1/accounts/p/take-backs", body), 403, "read_only_key")
    # The child's own key cannot take back from itself, nor reach its parent.
    problem(kid.post("/v1/accounts/p/take-backs", body), 404, "not_found")
    assert books_diff(before, books(trees.ctx)) == {}
    back = mine.ok("POST", "/v1/accounts/p/take-backs", {**body, "credits": "40"})
    assert (back["credits"], back["child_balance"], back["parent_available"]) == ("-40", "0", "100")


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("p/transfers", {"child": "grandkid"}, 403, "refused"),  # not a direct child
        ("p/transfers", {"credits": 101}, 402, "insufficient_credits"),
        ("p/transfers", {"credits": 0}, 422, "invalid_amount"),
        ("p/transfers", {"credits": 1.5}, 422, "invalid_input"),  # floats are refused
        ("p/transfers", {"credits": "1.5"}, 422, "invalid_amount"),  # e-mail credits are whole
        ("p/transfers", {"unit": "nope"}, 404, "not_found"),
        ("p/transfers", {"child": "nobody"}, 404, "not_found"),
        ("nobody/transfers", {}, 404, "not_found"),
        ("p/transfers", {"surprise": 1}, 422, "invalid_input"),
        ("p/transfers", {"reason": ""}, 422, "invalid_input"),
        ("p/take-backs", {"credits": 1}, 402, "insufficient_credits"),  # nothing given yet
        ("p/take-backs", {"child": "other"}, 403, "outside_tree"),
        ("kid/take-backs", {"child": "p"}, 403, "refused"),  # a parent is not a child
    ],
)
def test_transfers_and_take_backs_refuse_and_change_nothing(
    trees: Api, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    sent = {"child": "kid", "unit": "email", "credits": 1, **body}
    before = books(trees.ctx)
    problem(trees.op.post(f"/v1/accounts/{path}", sent), status, code)
    assert books_diff(before, books(trees.ctx)) == {}


def test_the_transfer_history_pages_and_filters(trees: Api) -> None:
    op = trees.op
    trees.account("kid-2", "p")
    trees.give("p", "sms", "10.00")
    moves = [
        ("kid", "email", 5),
        ("kid-2", "email", 7),
        ("kid", "sms", "1.25"),
        ("kid", "email", 1),
    ]
    for child, unit, credits in moves:
        op.ok(
            "POST", "/v1/accounts/p/transfers", {"child": child, "unit": unit, "credits": credits}
        )
    op.ok("POST", "/v1/accounts/p/take-backs", {"child": "kid", "unit": "sms", "credits": "0.25"})
    mine = trees.key("p")
    for limit in (1, 2, 5, 500):
        lines = walk(mine, "/v1/accounts/p/transfers", limit)
        assert [(x["child"], x["credits"]) for x in lines] == [
            ("kid", "5"), ("kid-2", "7"), ("kid", "1.25"), ("kid", "1"), ("kid", "-0.25"),
        ]  # fmt: skip
    only_kid_sms = walk(mine, "/v1/accounts/p/transfers", 1, child="kid", unit="sms")
    assert [x["credits"] for x in only_kid_sms] == ["1.25", "-0.25"]
    assert walk(mine, "/v1/accounts/p/transfers", 2, unit="push") == []
    # The child's key sees its own (empty) history, not its parent's.
    assert trees.key("kid").ok("GET", "/v1/accounts/kid/transfers")["items"] == []
    problem(trees.key("kid").get("/v1/accounts/p/transfers"), 404, "not_found")
    problem(mine.get("/v1/accounts/p/transfers", {"child": "other"}), 404, "not_found")
    problem(mine.get("/v1/accounts/nobody/transfers"), 404, "not_found")
    for cursor in ("zzz", foreign_cursor("snd", 1), foreign_cursor("tr", -1)):
        problem(mine.get("/v1/accounts/p/transfers", {"cursor": cursor}), 422, "invalid_input")
    far = mine.ok("GET", f"/v1/accounts/p/transfers?cursor={foreign_cursor('tr', 2**40)}")
    assert far == {"items": [], "next_cursor": None}
    problem(mine.get("/v1/accounts/p/transfers", {"unit": "Not A Unit"}), 422, "invalid_input")
    problem(mine.get("/v1/accounts/p/transfers", {"limit": 0}), 422, "invalid_input")


# -- the reseller's books and account moves ------------------------------------------------------


def test_the_reseller_summary_and_its_seats(api: Api) -> None:
    op = api.op
    plan = {"code": "wl", "name": "WL small", "unit": "email", "credits": 1_000, "seats": 1}
    op.ok("POST", "/v1/plans", {**plan, "period": "monthly"})
    api.account("r")
    problem(op.get("/v1/accounts/r/reseller/email"), 404, "not_found")  # no plan yet
    op.ok("POST", "/v1/accounts/r/subscriptions", {"plan": "wl"})
    mine = api.key("r")
    api.account("c1", "r", by=mine)
    summary = mine.ok("GET", "/v1/accounts/r/reseller/email")
    assert (summary["users_created"], summary["users_allowed"], summary["a"]) == (1, 1, "1000")
    before = books(api.ctx)
    body = {"ref": "c2", "name": "C2", "email": "c2@x.test", "parent": "r"}
    problem(mine.post("/v1/accounts", body), 403, "seats_exhausted")
    assert books_diff(before, books(api.ctx)) == {}
    problem(mine.get("/v1/accounts/r/reseller/sms"), 404, "not_found")  # no plan in that unit
    problem(mine.get("/v1/accounts/r/reseller/nope"), 404, "not_found")
    problem(mine.get("/v1/accounts/c1/reseller/email"), 404, "not_found")  # a child has no plan
    api.account("x")
    problem(api.key("x").get("/v1/accounts/r/reseller/email"), 404, "not_found")
    assert api.key("r", read_only=True).get("/v1/accounts/r/reseller/email").status_code == 200


def test_an_account_moves_inside_its_tree_only(trees: Api) -> None:
    op, mine = trees.op, trees.key("p")
    trees.account("kid-2", "p")
    moved = mine.ok("POST", "/v1/accounts/grandkid/move", {"parent": "kid-2", "reason": "reorg"})
    assert (moved["ref"], moved["parent"]) == ("grandkid", "kid-2")
    assert op.ok("GET", "/v1/accounts/grandkid")["parent"] == "kid-2"
    op.ok("POST", "/v1/accounts/p/transfers", {"child": "kid", "unit": "email", "credits": 3})
    op.ok("POST", "/v1/plans", {"code": "m", "name": "M", "unit": "email", "credits": 1,
                                "period": "monthly"})  # fmt: skip
    op.ok("POST", "/v1/accounts/other/subscriptions", {"plan": "m"})
    trees.account("other-kid", "other")
    kid_2, reader = trees.key("kid-2"), trees.key("p", read_only=True)
    before = books(trees.ctx)
    for who, path, parent, status, code in [
        (op, "p", "grandkid", 422, "invalid_input"),  # the tree would loop
        (op, "kid-2", "grandkid", 422, "invalid_input"),
        (op, "kid", "kid-2", 409, "invalid_state"),  # it holds credits p gave it
        (op, "grandkid", "other", 403, "outside_tree"),
        (op, "other-kid", "nobody", 404, "not_found"),
        (mine, "grandkid", "other", 404, "not_found"),  # another tree is unknown to a key
        (mine, "other-kid", "p", 404, "not_found"),
        (kid_2, "grandkid", "kid", 404, "not_found"),  # kid is above kid-2's tree
        (reader, "grandkid", "kid", 403, "read_only_key"),
    ]:
        problem(who.post(f"/v1/accounts/{path}/move", {"parent": parent}), status, code)
    problem(op.post("/v1/accounts/other-kid/move", {"parent": ""}), 422, "invalid_input")
    problem(op.post("/v1/accounts/other-kid/move", {}), 422, "invalid_input")
    assert books_diff(before, books(trees.ctx)) == {}
    # Moving an account under the parent it has changes nothing, and says so.
    assert mine.ok("POST", "/v1/accounts/kid/move", {"parent": "p"})["parent"] == "p"


# -- senders -------------------------------------------------------------------------------------


def test_a_sender_is_added_shown_and_listed_page_by_page(api: Api, acy: Caller) -> None:
    made = acy.ok("POST", "/v1/accounts/acy/senders",
                  {"name": "list-a", "kind": "list", "unit": "sms", "mode": "assignment",
                   "limit": "12.50"})  # fmt: skip
    assert made == {
        "account": "acy", "name": "list-a", "kind": "list", "unit": "sms", "mode": "assignment",
        "cap": None, "cap_used": "0.00", "assigned": "12.50", "status": "active",
        "unblock_requested": False,
    }  # fmt: skip
    assert acy.ok("GET", "/v1/accounts/acy/senders/list-a") == made
    assert acy.ok("GET", "/v1/accounts/acy/balances/sms")["assigned"] == "12.50"
    names = ["list-a"] + [f"d{i}.acy.test" for i in range(5)]
    for name in names[1:]:
        acy.ok("POST", "/v1/accounts/acy/senders", {"name": name, "unit": "email"})
    for limit in (1, 2, 6, 500):
        assert [s["name"] for s in walk(acy, "/v1/accounts/acy/senders", limit)] == names
    reader = api.key("acy", read_only=True)
    assert reader.ok("GET", "/v1/accounts/acy/senders/d0.acy.test")["mode"] == "free_access"
    problem(acy.get("/v1/accounts/acy/senders/nope.test"), 404, "not_found")
    problem(acy.get("/v1/accounts/nobody/senders"), 404, "not_found")
    api.account("rival")
    rival = api.key("rival")
    problem(rival.get("/v1/accounts/acy/senders"), 404, "not_found")
    problem(rival.get("/v1/accounts/acy/senders/list-a"), 404, "not_found")
    for cursor in ("!!", foreign_cursor("tr", 1), foreign_cursor("snd", -3)):
        problem(acy.get("/v1/accounts/acy/senders", {"cursor": cursor}), 422, "invalid_input")
    far = acy.get("/v1/accounts/acy/senders", {"cursor": foreign_cursor("snd", 2**62)})
    assert far.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": MAIL}, 409, "already_exists"),
        ({"unit": "nope"}, 404, "not_found"),
        ({"mode": "cap"}, 422, "invalid_input"),  # a cap needs its limit
        ({"limit": 5}, 422, "invalid_input"),  # free access has none
        ({"mode": "cap", "limit": 1.5}, 422, "invalid_input"),  # floats are refused
        ({"mode": "cap", "limit": "-1"}, 422, "invalid_amount"),
        ({"mode": "assignment", "limit": 20_001}, 402, "insufficient_credits"),
        ({"mode": "share"}, 422, "invalid_input"),
        ({"kind": "sub-account"}, 422, "invalid_input"),
        ({"name": "a/b"}, 422, "invalid_input"),  # it could not be named in a URL
        ({"name": ""}, 422, "invalid_input"),
        ({"name": "x" * 254}, 422, "invalid_input"),
        ({"name": "tab\there"}, 422, "invalid_input"),
        ({"surprise": True}, 422, "invalid_input"),
    ],
)
def test_adding_a_sender_refuses_and_changes_nothing(
    api: Api, acy: Caller, body: dict[str, Any], status: int, code: str
) -> None:
    acy.ok("POST", "/v1/accounts/acy/senders", {"name": MAIL, "unit": "email"})
    before = books(api.ctx)
    sent = {"name": "d2.acy.test", "unit": "email", **body}
    problem(acy.post("/v1/accounts/acy/senders", sent), status, code)
    assert books_diff(before, books(api.ctx)) == {}


def test_adding_a_sender_is_for_keys_of_its_tree(api: Api, acy: Caller) -> None:
    api.account("rival")
    rival, reader = api.key("rival"), api.key("acy", read_only=True)
    before = books(api.ctx)
    body = {"name": MAIL, "unit": "email"}
    problem(rival.post("/v1/accounts/acy/senders", body), 404, "not_found")
    problem(reader.post("/v1/accounts/acy/senders", body), 403, "read_only_key")
    problem(api.op.post("/v1/accounts/nobody/senders", body), 404, "not_found")
    problem(acy.post("/v1/accounts/acy/senders", body, idempotent=False), 400,
            "idempotency_key_missing")  # fmt: skip
    assert books_diff(before, books(api.ctx)) == {}


def test_a_sender_changes_how_it_shares_the_credits(api: Api, acy: Caller) -> None:
    url = "/v1/accounts/acy/senders/list-a/sharing"
    acy.ok("POST", "/v1/accounts/acy/senders", {"name": "list-a", "unit": "sms"})
    assigned = acy.ok("POST", url, {"mode": "assignment", "limit": "60.00"})
    assert (assigned["mode"], assigned["assigned"], assigned["cap"]) == (
        "assignment",
        "60.00",
        None,
    )
    api.account("rival")
    rival = api.key("rival")
    before = books(api.ctx)
    short = problem(acy.post(url, {"mode": "assignment", "limit": "100.01"}), 402,
                    "insufficient_credits")  # fmt: skip
    assert (short["shortfall"], short["available"], short["unit"]) == ("0.01", "40.00", "sms")
    for body, code in [
        ({"mode": "cap", "limit": "-0.01"}, "invalid_amount"),
        ({"mode": "cap", "limit": "0.001"}, "invalid_amount"),  # SMS credits have two decimals
        ({"mode": "cap"}, "invalid_input"),
        ({"mode": "free_access", "limit": 1}, "invalid_input"),
        ({"mode": "cap", "limit": 2.5}, "invalid_input"),
    ]:
        problem(acy.post(url, body), 422, code)
    problem(acy.post("/v1/accounts/acy/senders/nope/sharing", {"mode": "free_access"}), 404,
            "not_found")  # fmt: skip
    problem(rival.post(url, {"mode": "free_access"}), 404, "not_found")
    assert books_diff(before, books(api.ctx)) == {}
    capped = acy.ok("POST", url, {"mode": "cap", "limit": 0})  # the assignment goes back
    assert (capped["mode"], capped["cap"], capped["assigned"]) == ("cap", "0.00", "0.00")
    assert acy.ok("GET", "/v1/accounts/acy/balances/sms")["assigned"] == "0.00"
    free = acy.ok("POST", url, {"mode": "free_access"})
    assert (free["mode"], free["cap"]) == ("free_access", None)


def test_statuses_by_owner_and_operator_with_who_and_why(api: Api, acy: Caller) -> None:
    op, url = api.op, f"/v1/accounts/acy/senders/{MAIL}/status"
    acy.ok("POST", "/v1/accounts/acy/senders", {"name": MAIL, "unit": "email"})

    def act(who: Caller, action: str, reason: str | None = None) -> Any:
        return who.post(url, {"action": action, **({"reason": reason} if reason else {})})

    assert act(acy, "suspend").json()["status"] == "suspended"
    problem(send(acy, "acy", 1, MAIL), 403, "sender_inactive")
    assert act(acy, "resume").json()["status"] == "active"
    assert act(op, "block", "complaints").json()["status"] == "blocked"
    reader = api.key("acy", read_only=True)
    before = books(api.ctx)
    for who, action, reason, status, code in [
        (acy, "unblock", None, 403, "refused"),  # only the operator lifts a block
        (acy, "block", "x", 403, "refused"),
        (op, "request_unblock", "x", 403, "refused"),  # the owner asks
        (acy, "resume", None, 409, "invalid_state"),  # blocked, not suspended
        (acy, "request_unblock", None, 422, "invalid_input"),  # asking needs a reason
        (op, "approve_unblock", None, 409, "invalid_state"),  # nothing was asked
        (acy, "reboot", None, 422, "invalid_input"),
        (reader, "suspend", None, 403, "read_only_key"),
    ]:
        problem(act(who, action, reason), status, code)
    problem(send(acy, "acy", 1, MAIL), 403, "sender_inactive")
    assert books_diff(before, books(api.ctx)) == {}
    asked = act(acy, "request_unblock", "list cleaned").json()
    assert (asked["status"], asked["unblock_requested"]) == ("blocked", True)
    problem(act(acy, "request_unblock", "again"), 409, "invalid_state")
    problem(act(op, "refuse_unblock"), 422, "invalid_input")  # a refusal says why
    act(op, "refuse_unblock", "still complaints")
    act(acy, "request_unblock", "cleaned again")
    assert act(op, "approve_unblock").json()["status"] == "active"
    assert send(acy, "acy", 1, MAIL).status_code == 201
    op_actor, owner_actor = (f"key:{c.secret.split('_')[1]}" for c in (op, acy) if c.secret)
    events = walk(acy, f"/v1/accounts/acy/senders/{MAIL}/history", 2)
    assert [(e["action"], e["role"], e["actor"], e["reason"], e["after"]) for e in events] == [
        ("suspend", "owner", owner_actor, None, "suspended"),
        ("resume", "owner", owner_actor, None, "active"),
        ("block", "operator", op_actor, "complaints", "blocked"),
        ("request_unblock", "owner", owner_actor, "list cleaned", "blocked"),
        ("refuse_unblock", "operator", op_actor, "still complaints", "blocked"),
        ("request_unblock", "owner", owner_actor, "cleaned again", "blocked"),
        ("approve_unblock", "operator", op_actor, None, "active"),
    ]
    assert walk(acy, f"/v1/accounts/acy/senders/{MAIL}/history", 7) == events
    problem(acy.get("/v1/accounts/acy/senders/nope/history"), 404, "not_found")
    problem(acy.get(f"/v1/accounts/acy/senders/{MAIL}/history", {"cursor": "x"}), 422,
            "invalid_input")  # fmt: skip
    api.account("rival")
    problem(api.key("rival").get(f"/v1/accounts/acy/senders/{MAIL}/history"), 404, "not_found")
    problem(act(api.key("rival"), "suspend"), 404, "not_found")


def test_outcomes_are_reported_by_the_operator_only(
    clock: pm.FixedClock, api: Api, acy: Caller
) -> None:
    op, url = api.op, f"/v1/accounts/acy/senders/{MAIL}/outcomes"
    acy.ok("POST", "/v1/accounts/acy/senders", {"name": MAIL, "unit": "email"})
    day = clock.now().date().isoformat()
    report = {"day": day, "sent": 100, "delivered": 97, "hard_bounced": 2, "complained": 1}
    assert op.ok("POST", url, report) == {"account": "acy", "sender": MAIL, **report}
    assert op.ok("POST", url, {**report, "delivered": 96})["delivered"] == 96  # it replaces
    before = books(api.ctx)
    problem(acy.post(url, report), 403, "operator_only")
    for bad in (
        {"delivered": 101},  # more than sent
        {"complained": 98},  # more than delivered
        {"sent": -1},
        {"sent": 1.0},
        {"day": "yesterday"},
        {"hard_bounced": 10**13},
    ):
        problem(op.post(url, {**report, **bad}), 422, "invalid_input")
    problem(op.post("/v1/accounts/acy/senders/nope/outcomes", report), 404, "not_found")
    problem(op.post(f"/v1/accounts/nobody/senders/{MAIL}/outcomes", report), 404, "not_found")
    assert books_diff(before, books(api.ctx)) == {}


def test_a_dedicated_ip_is_asked_by_the_owner_and_decided_by_the_operator(
    clock: pm.FixedClock, api: Api, acy: Caller
) -> None:
    op = api.op
    acy.ok("POST", "/v1/accounts/acy/senders", {"name": MAIL, "unit": "email"})
    assert send(acy, "acy", 4_000, MAIL).status_code == 201
    day = clock.now().date().isoformat()
    outcomes = {"day": day, "sent": 4_000, "delivered": 3_960, "hard_bounced": 12, "complained": 2}
    op.ok("POST", f"/v1/accounts/acy/senders/{MAIL}/outcomes", outcomes)
    ask = f"/v1/accounts/acy/senders/{MAIL}/ip-requests"
    first = acy.ok("POST", ask)
    assert (first["state"], first["volume_30d"], first["sent_7d"]) == ("pending", 4_000, 4_000)
    assert (first["delivered_bp"], first["hard_bounced_bp"], first["complained_bp"]) == (
        9_900, 30, 5,
    )  # fmt: skip
    second, third = acy.ok("POST", ask), acy.ok("POST", ask)
    listed = walk(acy, "/v1/accounts/acy/ip-requests", 2)
    assert [r["id"] for r in listed] == [third["id"], second["id"], first["id"]]  # newest first
    decide = "/v1/ip-requests/{}/decision"
    api.account("rival")
    rival = api.key("rival")
    before = books(api.ctx)
    problem(acy.post(decide.format(first["id"]), {"decision": "approve"}), 403, "operator_only")
    problem(op.post(decide.format(first["id"]), {"decision": "refuse"}), 422, "invalid_input")
    problem(op.post(decide.format(first["id"]), {"decision": "maybe"}), 422, "invalid_input")
    problem(op.post(decide.format(first["id"]), {"approve": True}), 422, "invalid_input")
    for missing in (9_999, 0, -1, 2**31, 2**63):
        problem(op.post(decide.format(missing), {"decision": "approve"}), 404, "not_found")
    problem(acy.post("/v1/accounts/acy/senders/nope/ip-requests"), 404, "not_found")
    problem(rival.post(ask), 404, "not_found")
    problem(rival.get("/v1/accounts/acy/ip-requests"), 404, "not_found")
    problem(acy.get("/v1/accounts/acy/ip-requests", {"cursor": foreign_cursor("a", 1)}), 422,
            "invalid_input")  # fmt: skip
    assert books_diff(before, books(api.ctx)) == {}
    approved = op.ok("POST", decide.format(first["id"]), {"decision": "approve"})
    assert (approved["state"], approved["decided_by"]) == ("approved", approved["decided_by"])
    refused = op.ok("POST", decide.format(second["id"]),
                    {"decision": "refuse", "reason": "volume too low"})  # fmt: skip
    assert (refused["state"], refused["reason"]) == ("refused", "volume too low")
    problem(
        op.post(decide.format(first["id"]), {"decision": "refuse", "reason": "no"}),
        409,
        "invalid_state",
    )  # decided once
    states = [r["state"] for r in acy.ok("GET", "/v1/accounts/acy/ip-requests")["items"]]
    assert states == ["pending", "refused", "approved"]  # never granted by itself


def test_an_assigned_list_keeps_its_credits_from_the_others(api: Api, acy: Caller) -> None:
    acy.ok("POST", "/v1/accounts/acy/senders",
           {"name": "list-a", "kind": "list", "unit": "email", "mode": "assignment",
            "limit": 12_000})  # fmt: skip
    acy.ok("POST", "/v1/accounts/acy/senders", {"name": MAIL, "unit": "email"})
    before = books(api.ctx)
    problem(send(acy, "acy", 8_001, MAIL), 402, "insufficient_credits")  # 12,000 set aside
    problem(send(acy, "acy", 8_001), 402, "insufficient_credits")
    problem(send(acy, "acy", 12_001, "list-a"), 403, "assignment_exhausted")
    problem(send(acy, "acy", 1, "nope"), 404, "not_found")
    assert books_diff(before, books(api.ctx)) == {}
    assert send(acy, "acy", 12_000, "list-a").json()["balance"] == "8000"
    assert send(acy, "acy", 8_000, MAIL).json()["balance"] == "0"


def test_text_that_cannot_be_stored_is_refused_not_a_500(api: Api, acy: Caller) -> None:
    """A NUL is refused by PostgreSQL's driver, not by a rule: every route checks first."""
    op = api.op
    acy.ok("POST", "/v1/accounts/acy/senders", {"name": MAIL, "unit": "email"})
    api.account("kid", "acy")
    api.give("acy", "email", 5)
    asked = acy.ok("POST", f"/v1/accounts/acy/senders/{MAIL}/ip-requests")["id"]
    before = books(api.ctx)
    for response in (
        acy.get("/v1/accounts/acy/senders/a%00b"),
        acy.get("/v1/accounts/acy/senders/a%00b/history"),
        acy.post("/v1/accounts/acy/senders/a%00b/sharing", {"mode": "free_access"}),
        acy.post("/v1/accounts/acy/senders/a%00b/status", {"action": "suspend"}),
        acy.post("/v1/accounts/acy/senders/a%00b/ip-requests"),
        op.post(
            "/v1/accounts/acy/senders/a%00b/outcomes",
            {"day": "2026-04-01", "sent": 0, "delivered": 0},
        ),
        acy.post("/v1/accounts/acy/senders", {"name": "a\x00b", "unit": "email"}),
        send(acy, "acy", 1, "a\x00b"),
        acy.post(
            f"/v1/accounts/acy/senders/{MAIL}/status", {"action": "suspend", "reason": "r\x00"}
        ),
        op.post(f"/v1/ip-requests/{asked}/decision", {"decision": "refuse", "reason": "r\x00"}),
        op.post(f"/v1/ip-requests/{asked}/decision", {"decision": "approve", "reason": "\x00"}),
        acy.post(
            "/v1/accounts/acy/transfers",
            {"child": "kid", "unit": "email", "credits": 1, "reason": "\x00"},
        ),
        acy.post("/v1/accounts/acy/transfers", {"child": "k\x00", "unit": "email", "credits": 1}),
        acy.post("/v1/accounts/kid/move", {"parent": "acy", "reason": "\x00"}),
        acy.post("/v1/accounts/kid/move", {"parent": "a\x00"}),
        acy.get("/v1/accounts/acy/transfers", {"child": "k\x00"}),
        acy.get("/v1/accounts/acy/transfers", {"unit": "e\x00"}),
        acy.get("/v1/accounts/acy/reseller/e%00"),
    ):
        assert response.status_code in (404, 422), response.text
    assert books_diff(before, books(api.ctx)) == {}


def test_a_sender_name_with_a_slash_is_refused_it_could_not_be_reached(
    api: Api, acy: Caller
) -> None:
    """Its name is a segment of its own URLs: "lists/Spring 2026" would be two."""
    before = books(api.ctx)
    body = {"name": "lists/Spring 2026", "unit": "email"}
    problem(acy.post("/v1/accounts/acy/senders", body), 422, "invalid_input")
    assert books_diff(before, books(api.ctx)) == {}
