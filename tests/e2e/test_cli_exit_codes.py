"""One exit code per error class, one line on stderr, and a JSON error document with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import postmeter as pm
from postmeter.cli.main import app
from tests.e2e.test_cli import Cli


@pytest.fixture
def cli(db_url: str) -> Cli:
    cli = Cli(db_url)
    cli.setup_acme()
    return cli


def test_usage_errors_are_typers_own_code_2(cli: Cli) -> None:
    assert cli.run("charge acme").exit_code == 2
    assert cli.run("journal --limit many").exit_code == 2
    assert cli.run("no-such-command").exit_code == 2


def test_invalid_input_is_3(cli: Cli) -> None:
    assert cli.fails(3, "charge acme -u email -c 0")["code"] == "invalid_amount"
    assert cli.fails(3, "account create 'bad ref' --name X --email x@x.test")["code"] == (
        "invalid_input"
    )


def test_not_found_is_4(cli: Cli) -> None:
    assert cli.fails(4, "account show nobody")["details"] == {"account": "nobody"}


def test_conflicts_are_5(cli: Cli) -> None:
    exists = cli.fails(5, "account create acme --name Acme --email ops@acme.test")
    assert exists["code"] == "already_exists"
    cli.ok("charge acme -u email -c 1 --key k")
    assert cli.fails(5, "charge acme -u email -c 2 --key k")["code"] == "idempotency_key_reused"
    held = cli.ok("reserve acme -u email -c 5 --deadline 2026-04-02")
    cli.ok(f"release {held['id']}")
    assert cli.fails(5, f"release {held['id']}")["code"] == "invalid_state"


def test_refusals_are_6(cli: Cli) -> None:
    assert cli.fails(6, "charge acme -u email -c 1001")["code"] == "insufficient_credits"
    cli.ok("account status acme suspended --reason 'unpaid'")
    inactive = cli.fails(6, "charge acme -u email -c 1")
    assert (inactive["code"], inactive["message"]) == (
        "account_inactive",
        "account 'acme' is suspended",
    )


def test_books_out_of_balance_is_7_and_names_the_discrepancy(cli: Cli, db_url: str) -> None:
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE balances SET balance = balance + 1"))
    engine.dispose()
    error = cli.fails(7, "verify")
    assert error["code"] == "books_out_of_balance"
    assert "balance 1001, but its lots hold 1000 and its journal sums to 1000" in error["message"]
    assert cli.run("verify", as_json=False).stdout == ""


def test_a_database_that_is_not_there_is_8(tmp_path: Path) -> None:
    missing = Cli(f"sqlite:///{tmp_path}/missing.db")
    error = missing.fails(8, "verify")
    assert error["message"].startswith("no database at ")
    unreachable = Cli("postgresql://nobody@127.0.0.1:1/postmeter")
    assert unreachable.fails(8, "verify")["code"] == "database_error"


def test_a_database_url_postmeter_cannot_use_is_3() -> None:
    assert Cli("mysql://localhost/x").fails(3, "verify")["message"] == (
        "unsupported database 'mysql': use sqlite or postgresql"
    )
    assert Cli("not a url").fails(3, "verify")["message"] == "not a database URL: 'not a url'"


def test_an_unmigrated_database_says_to_upgrade(tmp_path: Path) -> None:
    empty = Cli(f"sqlite:///{tmp_path}/empty.db")
    engine = sa.create_engine(empty.db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE unrelated (id INTEGER)"))
    engine.dispose()
    error = empty.fails(8, "verify")
    assert error["message"].endswith("(is the schema there? run `postmeter db upgrade`)")
    assert empty.ok("init")["units"]
    assert empty.ok("verify")["ok"] is True


def test_an_unexpected_error_is_1_in_one_line_without_a_traceback(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_ctx: pm.Context) -> pm.VerifyReport:
        raise RuntimeError("disk on fire\nand a second line")

    monkeypatch.setattr(pm, "verify", broken)
    result = cli.run("verify")
    assert result.exit_code == 1
    assert result.stderr == "error: internal_error: RuntimeError: disk on fire\n"
    assert json.loads(result.stdout)["error"]["code"] == "internal_error"


def test_without_json_an_error_prints_nothing_on_stdout(cli: Cli) -> None:
    result = cli.run("charge acme -u email -c 5000", as_json=False)
    assert (result.exit_code, result.stdout) == (6, "")
    assert result.stderr == (
        "error: insufficient_credits: account 'acme' lacks 4000 email credits (available: 1000)\n"
    )


def test_an_invalid_setting_is_3_and_named(cli: Cli) -> None:
    env = {"POSTMETER_DATABASE_URL": None, "POSTMETER_NOW": None, "POSTMETER_POOL_SIZE": "0"}
    result = CliRunner().invoke(app, ["--db", cli.db_url, "verify"], env=env)
    assert result.exit_code == 3
    assert result.stderr.startswith("error: invalid_config: POSTMETER_POOL_SIZE: ")
    assert len(result.stderr.splitlines()) == 1
