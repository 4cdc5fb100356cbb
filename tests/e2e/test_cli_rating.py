"""``postmeter rates``, ``quote``, ``send``, ``packages-per-country``, ``email-rate`` and
``campaign``: the happy paths, and bad input that says why in one line and changes nothing, on
SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import Cli

RATES = "country,credits\nBR,0.50\nDE,1.00\nFR,0.75\n"
FR1, FR2, DE1, BR1 = "+33612345678", "+33612345679", "+4915123456789", "+5511961234567"
TO = f"--to {FR1} --to {FR2} --to {DE1} --to {BR1}"


@pytest.fixture
def cli(db_url: str) -> Cli:
    return Cli(db_url)


@pytest.fixture
def club(cli: Cli) -> Cli:
    """An SMS customer with 100.00 credits, the price list in force, two packages on sale."""
    cli.ok("account create club --name Club --email sms@club.test")
    cli.ok("grant club -u sms -c 100 --reason prepaid")
    cli.ok("rates import sms - --key rates-1", stdin=RATES)
    for code, credits in (("sms-1000", "1000"), ("sms-5000", "5000")):
        cli.ok(
            f"package create {code} --name {code} -u sms -c {credits} --months 24 "
            f"--price {int(credits) // 20} --currency EUR"
        )
    return cli


def state(cli: Cli) -> tuple[Any, ...]:
    """Everything a refused command must leave as it was."""
    return (
        cli.books(),
        cli.ok("rates show sms"),
        cli.ok("campaign list club"),
        cli.ok("email-rate --account club"),
    )


def test_a_rate_card_imports_shows_and_exports_as_it_came_in(club: Cli, tmp_path: Path) -> None:
    assert club.text("rates export sms") == RATES
    shown = club.ok("rates show sms")
    assert [(r["country"], r["credits"]) for r in shown["rates"]] == [
        ("BR", "0.50"),
        ("DE", "1.00"),
        ("FR", "0.75"),
    ]
    later = tmp_path / "rates.csv"
    later.write_text("\ufeffFR,0.70\n*,1.25\n")  # as a spreadsheet saves it
    club.ok(f"rates import sms {later} --from 2026-05-01 --key rates-2")
    assert club.text("rates export sms --at 2026-05-01") == "country,credits\nFR,0.70\n*,1.25\n"
    versions = club.ok("rates show sms")["versions"]
    assert [v["effective_from"] for v in versions] == [
        "2026-04-01T09:00:00+00:00",
        "2026-05-01T00:00:00+00:00",
    ]
    assert "to come" in club.text("rates show sms")


def test_a_quote_then_a_send_charge_each_country_by_its_rate(club: Cli) -> None:
    text = "'" + "Hello from the club! " * 8 + "'"  # 168 GSM-7 characters: two parts
    quoted = club.ok(f"quote club -u sms --text {text} {TO}")
    assert (quoted["credits"], quoted["parts"], quoted["recipients"]) == ("6.00", 2, 4)
    assert club.ok("journal --kind charge")["entries"] == []  # nothing charged
    sent = club.ok(f"send club -u sms --text {text} {TO} --reference promo --key promo-1")
    assert [(c["country"], c["credits"]) for c in sent["charges"]] == [
        ("BR", "1.00"),
        ("DE", "2.00"),
        ("FR", "3.00"),
    ]
    assert (sent["credits"], sent["balance"], sent["replayed"]) == ("6.00", "94.00", False)
    again = club.ok(f"send club -u sms --text {text} {TO} --reference promo --key promo-1")
    assert (again["balance"], again["replayed"]) == ("94.00", True)
    shown = club.text(f"quote club -u sms --text {text} {TO}")
    assert "FR      │ 2          │ 4     │ 0.75 │    3.00" in shown


def test_numbers_come_from_a_file_and_partial_lists_what_it_leaves_out(
    club: Cli, tmp_path: Path
) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text(f"# the list\n{FR1}\n\n06 12 34 56 79\n+81 90-1234-5678\n")
    sent = club.ok(f"send club -u sms --text Hi --to-file {numbers} --region FR --partial")
    assert [(line["country"], line["recipients"]) for line in sent["lines"]] == [("FR", 2)]
    assert sent["refused"] == [{"number": "+81 90-1234-5678", "reason": "no_rate", "country": "JP"}]
    assert "left out" in club.text(f"quote club -u sms --text Hi --to-file {numbers} --partial")


def test_the_packages_table_says_how_many_sms_each_package_buys_per_country(club: Cli) -> None:
    table = {p["package"]: p["sms"] for p in club.ok("packages-per-country -u sms")["packages"]}
    assert table == {
        "sms-1000": {"BR": 2000, "DE": 1000, "FR": 1333},
        "sms-5000": {"BR": 10000, "DE": 5000, "FR": 6666},
    }
    assert "sms-5000 (5000.00)" in club.text("packages-per-country -u sms")


def test_a_campaign_is_scheduled_sent_at_the_new_price_or_cancelled(club: Cli) -> None:
    first = club.ok(
        f"campaign schedule club -u sms --text Sale {TO} --deadline 2026-04-08 --key c1"
    )
    assert (first["status"], first["reserved"]) == ("scheduled", "3.00")
    other = club.ok(f"campaign schedule club -u sms --text Sale --to {FR1} --deadline 2026-04-08")
    assert club.ok("balance club -u sms")["available"] == "96.25"
    club.ok("rates import sms - --from 2026-04-02 --key rates-2", stdin="*,2.00\n")
    sent = club.ok(f"campaign send {first['id']} --key c1-send", now="2026-04-03T09:00:00Z")
    assert (sent["status"], sent["captured"]) == ("sent", "8.00")
    assert sent["sent_quote"]["rates_from"] == "2026-04-02T00:00:00+00:00"
    assert club.ok(f"campaign cancel {other['id']}")["status"] == "cancelled"
    balance = club.ok("balance club -u sms")
    assert (balance["balance"], balance["reserved"]) == ("92.00", "0.00")
    listed = club.ok("campaign list club")["campaigns"]
    assert [(c["id"], c["status"]) for c in listed] == [(1, "sent"), (2, "cancelled")]
    assert "priced to send 2026-04-03 09:00 UTC" in club.text(f"campaign show {first['id']}")
    refused = club.fails(5, f"campaign send {other['id']}")
    assert refused["code"] == "invalid_state"


def test_an_email_rate_per_account_wins_over_the_plan_s(cli: Cli) -> None:
    cli.setup_acme(credits="")
    cli.ok("plan create news --name News -u email -c 10000 --days 30")
    cli.ok("subscribe acme news")
    assert cli.ok("send acme -u email --recipients 100")["credits"] == "100"
    assert cli.ok("email-rate --plan news -c 2")["credits"] == "2"
    assert cli.ok("email-rate --account acme")["source"] == "plan"
    assert cli.ok("send acme -u email --recipients 100")["credits"] == "200"
    cli.ok("email-rate --account acme -c 3")
    assert cli.ok("quote acme -u email --recipients 100")["credits"] == "300"
    assert "3 email credits per recipient (its own)" in cli.text("email-rate --account acme")
    cli.ok("email-rate --account acme --clear")
    assert cli.ok("balance acme -u email")["balance"] == "9700"


@pytest.mark.parametrize(
    ("command", "exit_code", "code", "says"),
    [
        ("rates import sms {bad_line}", 3, "invalid_input", "line 3"),
        ("rates import sms {unknown_country}", 3, "invalid_input", "'XX' is not a country code"),
        ("rates import sms {negative}", 3, "invalid_input", "greater than zero"),
        ("rates import sms {missing}", 3, "invalid_input", "cannot read"),
        ("rates import sms {good} --from 2026-03-01", 3, "invalid_input", "now or later"),
        ("rates import sms {good}", 5, "already_exists", "already"),
        ("rates import pigeons {good}", 4, "not_found", "no unit"),
        ("send club -u sms --text Hi --to 12345", 3, "unratable", "not a valid phone number"),
        ("send club -u sms --text Hi --to '+800 1234 5678'", 3, "unratable", "not a number of any"),
        ("send club -u sms --text Hi --to '+81 90-1234-5678'", 3, "unratable", "no rate for JP"),
        ("send club -u sms --text '' --to +33612345678", 3, "invalid_input", "must not be empty"),
        ("send club -u sms --text Hi", 3, "invalid_input", "at least one recipient"),
        ("send club -u sms --text Hi --to +33612345678 --region ZZ", 3, "invalid_input", "ZZ"),
        ("send club -u sms --to +33612345678", 3, "invalid_input", "one of them"),
        ("send club -u sms --text Hi --to +33612345678 --recipients 3", 3, "invalid_input", "SMS"),
        ("send nobody -u sms --text Hi --to +33612345678", 4, "not_found", "no account"),
        ("send club -u sms --text Hi --to-file /nonexistent", 3, "invalid_input", "cannot read"),
        ("send club -u sms --text Hi " + " ".join(["--to +33612345678"] * 140), 6,
         "insufficient_credits", "lacks 5.00 sms"),
        ("quote club -u email --recipients 0", 3, "invalid_input", "recipients"),
        ("email-rate --account club -c -1", 3, "invalid_amount", "negative"),
        ("email-rate --account club -c 0", 3, "invalid_amount", "zero"),
        ("email-rate --plan nothing -c 2", 4, "not_found", "no plan"),
        ("email-rate --account club --plan x -c 2", 3, "invalid_input", "one of them"),
        ("campaign schedule club -u sms --text Hi --to 12345 --deadline 2026-04-08", 3,
         "unratable", "not a valid phone number"),
        ("campaign schedule club -u sms --text Hi --to +33612345678 --deadline 2026-03-01", 3,
         "invalid_input", "deadline"),
        ("campaign send 42", 4, "not_found", "no campaign 42"),
        ("packages-per-country -u email", 4, "not_found", "no email rate card"),
    ],
)  # fmt: skip
def test_bad_input_says_why_in_one_line_and_changes_nothing(
    club: Cli, tmp_path: Path, command: str, exit_code: int, code: str, says: str
) -> None:
    files = {
        "bad_line": "country,credits\nFR,0.75\nDE,one euro\n",
        "unknown_country": "FR,0.75\nXX,1.00\n",
        "negative": "FR,-0.75\n",
        "good": "FR,0.75\n",
    }
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text)
    paths = {name: tmp_path / f"{name}.csv" for name in [*files, "missing"]}
    before = state(club)
    error = club.fails(exit_code, command.format(**paths))
    assert error["code"] == code
    assert says in error["message"]
    assert state(club) == before
