"""``postmeter sender`` and ``charge --sender``: the happy paths, and bad input that changes
nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_cli import Cli


@pytest.fixture
def cli(db_url: str) -> Cli:
    return Cli(db_url)


@pytest.fixture
def acy(cli: Cli) -> Cli:
    cli.setup_acme(credits="20000")
    cli.ok("sender create acme d1.acme.test -u email --cap 5000 --key s1")
    cli.ok("sender create acme list-a -u email --kind list --key s2")
    return cli


def senders(cli: Cli) -> list[dict[str, object]]:
    found: list[dict[str, object]] = cli.ok("sender list acme")["senders"]
    return found


def test_a_capped_domain_charges_up_to_its_cap(acy: Cli) -> None:
    assert acy.ok("charge acme -u email -c 4000 --sender d1.acme.test")["balance"] == "16000"
    refused = acy.fails(6, "charge acme -u email -c 1001 --sender d1.acme.test")
    assert refused["code"] == "cap_reached"
    shown = acy.ok("sender show acme d1.acme.test")
    assert (shown["mode"], shown["cap"], shown["cap_used"]) == ("cap", 5000, 4000)
    assert "4000 of 5000 this period" in acy.text("sender list acme")


def test_an_assignment_is_set_aside_and_given_back(acy: Cli) -> None:
    acy.ok("sender share acme list-a --assign 15000")
    assert acy.ok("balance acme -u email")["available"] == "5000"
    assert acy.fails(6, "charge acme -u email -c 5001")["code"] == "insufficient_credits"
    over = acy.fails(6, "charge acme -u email -c 15001 --sender list-a")
    assert over["code"] == "assignment_exhausted"
    assert acy.ok("charge acme -u email -c 15000 --sender list-a")["available"] == "5000"
    acy.ok("sender share acme list-a --free")
    assert acy.ok("balance acme -u email")["available"] == "5000"


def test_status_changes_keep_who_and_why(acy: Cli) -> None:
    acy.ok("sender status acme d1.acme.test block --reason 'spam complaints'")
    assert acy.fails(6, "charge acme -u email -c 1 --sender d1.acme.test")["code"] == (
        "sender_inactive"
    )
    acy.ok("sender status acme d1.acme.test request-unblock --as owner --reason 'list cleaned'")
    acy.ok("sender status acme d1.acme.test approve-unblock")
    history = acy.ok("sender show acme d1.acme.test")["history"]
    assert [(e["action"], e["role"], e["reason"]) for e in history] == [
        ("block", "operator", "spam complaints"),
        ("request_unblock", "owner", "list cleaned"),
        ("approve_unblock", "operator", None),
    ]
    acy.ok("charge acme -u email -c 1 --sender d1.acme.test")


def test_a_batch_file_names_each_items_sender(acy: Cli) -> None:
    lines = "\n".join(
        [
            "key,account,unit,credits,reference,sender",
            "b1,acme,email,3000,,d1.acme.test",
            "b2,acme,email,3000,,d1.acme.test",
            "b3,acme,email,3000,,list-a",
        ]
    )
    result = acy.run("charge-batch -", stdin=lines)
    assert result.exit_code == 9, result.output
    items = {i["key"]: i for i in json.loads(result.stdout)["items"]}
    assert [items[k]["ok"] for k in ("b1", "b2", "b3")] == [True, False, True]
    assert items["b2"]["error"]["code"] == "cap_reached"
    assert acy.ok("sender show acme d1.acme.test")["cap_used"] == 3000


@pytest.mark.parametrize(
    ("command", "exit_code", "code"),
    [
        ("sender create acme d2.acme.test -u email --cap -5", 3, "invalid_amount"),
        ("sender create acme d2.acme.test -u email --cap 5 --assign 5", 3, "invalid_input"),
        ("sender create acme d2.acme.test -u email --kind pigeon", 3, "invalid_input"),
        ("sender create acme d1.acme.test -u email", 5, "already_exists"),
        ("sender create nobody d2.acme.test -u email", 4, "not_found"),
        ("sender share acme d1.acme.test --assign 20001", 6, "insufficient_credits"),
        ("sender share acme d1.acme.test --free --cap 3", 3, "invalid_input"),
        ("sender status acme d1.acme.test block", 3, "invalid_input"),
        ("sender status acme d1.acme.test unblock --as owner", 6, "refused"),
        ("sender status acme d1.acme.test resume", 5, "invalid_state"),
        ("charge acme -u email -c 1 --sender nobody.test", 4, "not_found"),
    ],
)
def test_bad_sender_input_says_why_and_changes_nothing(
    acy: Cli, command: str, exit_code: int, code: str
) -> None:
    books, before = acy.books(), senders(acy)
    assert acy.fails(exit_code, command)["code"] == code
    assert (acy.books(), senders(acy)) == (books, before)


def test_a_dedicated_ip_request_records_the_figures_and_waits_for_the_operator(acy: Cli) -> None:
    acy.ok("charge acme -u email -c 1200 --sender d1.acme.test")
    acy.ok(
        "sender outcomes acme d1.acme.test --day 2026-04-01 --sent 1200 --delivered 1190"
        " --bounced 6 --complained 1"
    )
    asked = acy.ok("sender ip-request acme d1.acme.test")
    assert (asked["state"], asked["volume_30d"], asked["delivered_bp"]) == ("pending", 1200, 9917)
    assert "99.17%" in acy.text("sender ip-requests acme")
    assert acy.fails(3, f"sender ip-decide {asked['id']} refuse")["code"] == "invalid_input"
    refused = acy.ok(f"sender ip-decide {asked['id']} refuse --reason 'too little volume'")
    assert (refused["state"], refused["reason"]) == ("refused", "too little volume")
    assert acy.fails(
        3, "sender outcomes acme d1.acme.test --day 2026-13-01 --sent 1 --delivered 1"
    )["code"] == ("invalid_input")
