"""``charge-batch FILE``: JSON lines or CSV, one transaction, each item with its own result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import Cli

BATCH_FAILED = 9


@pytest.fixture
def cli(db_url: str) -> Cli:
    cli = Cli(db_url)
    cli.setup_acme()
    cli.ok("grant acme -u sms -c 10 --reason welcome")
    return cli


def lines(*items: dict[str, str]) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def test_json_lines_are_charged_and_a_second_run_replays(cli: Cli, tmp_path: Path) -> None:
    batch = tmp_path / "sends.jsonl"
    batch.write_text(
        lines(
            {"key": "m1", "account": "acme", "unit": "email", "credits": "100"},
            {"key": "m2", "account": "acme", "unit": "sms", "credits": "2.5", "reference": "x"},
            {"key": "m3", "account": "acme", "unit": "email", "credits": "50"},
        )
    )
    done = cli.ok(f"charge-batch {batch}")
    assert (done["charged"], done["failed"]) == (3, 0)
    assert [i["charge"]["balance"] for i in done["items"]] == ["900", "7.50", "850"]
    again = cli.ok(f"charge-batch {batch}")
    assert [i["charge"]["replayed"] for i in again["items"]] == [True, True, True]
    assert cli.ok("balance acme -u email")["balance"] == "850"


def test_csv_with_or_without_a_header(cli: Cli, tmp_path: Path) -> None:
    with_header = tmp_path / "a.csv"
    with_header.write_text("key,account,unit,credits\nc1,acme,email,10\nc2,acme,sms,0.25\n")
    without = tmp_path / "b.csv"
    without.write_text("c3,acme,email,5,campaign-7\n")
    assert cli.ok(f"charge-batch {with_header}")["charged"] == 2
    assert cli.ok(f"charge-batch {without}")["items"][0]["charge"]["balance"] == "985"
    table = cli.text(f"charge-batch {with_header}")
    assert "replayed" in table
    assert "2 charged, 0 failed" in table


def test_stdin_is_read_with_a_dash(cli: Cli) -> None:
    done = cli.ok("charge-batch -", stdin="k1,acme,email,1\n")
    assert done["items"][0]["charge"]["credits"] == "1"


def test_failed_items_book_nothing_the_others_are_charged_and_the_exit_is_9(
    cli: Cli, tmp_path: Path
) -> None:
    batch = tmp_path / "mixed.csv"
    batch.write_text(
        "ok1,acme,email,400\n"
        "short,acme,email,700\n"
        "nobody,ghost,email,1\n"
        "bad,acme,email,1.5\n"
        "fax,acme,fax,1\n"
        "ok2,acme,email,600\n"
    )
    result = cli.run(f"charge-batch {batch}")
    assert result.exit_code == BATCH_FAILED
    done = json.loads(result.stdout)
    assert [(i["ok"], (i["error"] or {}).get("code")) for i in done["items"]] == [
        (True, None),
        (False, "insufficient_credits"),
        (False, "not_found"),
        (False, "invalid_amount"),
        (False, "not_found"),
        (True, None),
    ]
    assert done["items"][1]["error"]["message"] == (
        "account 'acme' lacks 100 email credits (available: 600)"
    )
    assert result.stderr == (
        "error: batch_failed: 4 of 6 items failed; first, line 2: insufficient_credits: "
        "account 'acme' lacks 100 email credits (available: 600)\n"
    )
    assert cli.ok("balance acme -u email")["balance"] == "0"
    assert cli.ok("verify")["ok"] is True


@pytest.mark.parametrize(
    ("text", "exit_code", "says"),
    [
        (
            '{"key": "a", "account": "acme", "unit": "email", "credits": "1"}\n{oops\n',
            3,
            "line 2: not JSON",
        ),
        ('{"key": "a", "account": "acme", "unit": "email"}\n', 3, "line 1: credits is missing"),
        (
            '{"key": "a", "account": "acme", "unit": "email", "credits": 1.5e3}\n',
            BATCH_FAILED,
            "'1.5e3' is not a decimal",
        ),
        (
            '{"account": "acme", "unit": "email", "credits": "1", "price": "2"}\n',
            3,
            "line 1: unknown field 'price'",
        ),
        ("[1, 2]\n", 3, "line 1: expected key,account,unit,credits"),
        ("k1,acme,email,1\nk2,acme\n", 3, "line 2: expected key,account,unit,credits"),
    ],
    ids=["bad json", "missing field", "float", "unknown field", "not an object", "short row"],
)
def test_a_malformed_file_books_nothing(
    cli: Cli, tmp_path: Path, text: str, exit_code: int, says: str
) -> None:
    batch = tmp_path / "bad"
    batch.write_text(text)
    before = cli.books()
    result = cli.run(f"charge-batch {batch}")
    assert result.exit_code == exit_code
    assert says in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert cli.books() == before


def test_a_file_that_cannot_be_read_is_invalid_input(cli: Cli, tmp_path: Path) -> None:
    error = cli.fails(3, f"charge-batch {tmp_path}/nothing.csv")
    assert error["message"].startswith(f"cannot read {tmp_path}/nothing.csv")
