"""The command line, every command's happy path, on SQLite and PostgreSQL (through CliRunner).

The helper ``Cli`` below is shared by the other tests/e2e/test_cli_*.py files. Its commands are
written as a user types them: ``cli.ok("charge acme -u email -c 250")`` (split like a shell).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from postmeter.cli.main import app

START = "2026-04-01T09:00:00Z"


def argv(*args: str) -> list[str]:
    """One string is split like a shell line; several are taken as they are."""
    return shlex.split(args[0]) if len(args) == 1 else list(args)


@dataclass
class Cli:
    """Runs ``postmeter --db URL --now NOW [--json] ...`` in-process."""

    db_url: str
    now: str = START

    def run(
        self, *args: str, now: str | None = None, as_json: bool = True, stdin: str | None = None
    ) -> Result:
        options = ["--db", self.db_url, "--now", now or self.now]
        options += ["--json"] if as_json else []
        env = {"POSTMETER_DATABASE_URL": None, "POSTMETER_NOW": None, "COLUMNS": "160"}
        return CliRunner().invoke(app, [*options, *argv(*args)], input=stdin, env=env)

    def ok(self, *args: str, now: str | None = None, stdin: str | None = None) -> Any:
        """Run with --json, expect exit 0 and return the one JSON document it printed."""
        result = self.run(*args, now=now, stdin=stdin)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return json.loads(result.stdout)

    def text(self, *args: str, now: str | None = None) -> str:
        """Run without --json, expect exit 0 and return what people would read."""
        result = self.run(*args, now=now, as_json=False)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return result.stdout

    def fails(self, exit_code: int, *args: str, now: str | None = None) -> dict[str, Any]:
        """Run with --json, expect ``exit_code`` and one error line; return the JSON error."""
        result = self.run(*args, now=now)
        assert result.exit_code == exit_code, f"{args}: {result.output}"
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        error: dict[str, Any] = json.loads(result.stdout)["error"]
        assert lines[0] == f"error: {error['code']}: {error['message']}"
        return error

    def books(self) -> Any:
        """The whole journal, to compare before and after a refused command."""
        return self.ok("journal --limit 10000")["entries"]

    def setup_acme(self, credits: str = "1000") -> None:
        self.ok("account create acme --name Acme --email ops@acme.test")
        if credits:
            self.ok(f"grant acme -u email -c {credits} --reason welcome")


@pytest.fixture
def cli(db_url: str) -> Cli:
    return Cli(db_url)


def test_init_and_db_upgrade_bring_the_schema_up_and_list_the_units(cli: Cli) -> None:
    assert cli.ok("db upgrade")["schema"] == "current"
    units = {u["code"]: u for u in cli.ok("init")["units"]}
    assert (units["email"]["scale"], units["sms"]["scale"]) == (0, 2)
    assert "E-mail credits" in cli.text("init")


def test_unit_create_list_and_policy(cli: Cli) -> None:
    made = cli.ok("unit create whatsapp --name 'WhatsApp credits' --scale 1")
    assert made["scale"] == 1
    assert [u["code"] for u in cli.ok("unit list")["units"]] == ["email", "sms", "whatsapp"]
    policy = cli.ok(
        "unit policy whatsapp --signup-credits 2.5 --signup-days 30 --extend-on-purchase"
    )
    assert (policy["signup_credits"], policy["signup_credits_steps"]) == ("2.5", 25)
    assert policy["extend_on_purchase"] is True
    cli.setup_acme(credits="")
    lots = cli.ok("lots acme -u whatsapp")["lots"]
    assert [(lot["source"], lot["remaining"]) for lot in lots] == [("free", "2.5")]
    assert "WhatsApp credits" in cli.text("unit list")


def test_account_create_show_list_status_and_payg(cli: Cli) -> None:
    made = cli.ok("account create acme --name Acme --email ops@acme.test --timezone Europe/Paris")
    assert (made["ref"], made["timezone"], made["status"]) == ("acme", "Europe/Paris", "active")
    cli.ok("account create acme-eu --name 'Acme EU' --email eu@acme.test --parent acme")
    assert cli.ok("account show acme-eu")["parent"] == "acme"
    children = cli.ok("account list --parent acme")["accounts"]
    assert [a["ref"] for a in children] == ["acme-eu"]
    suspended = cli.ok("account status acme suspended --reason 'unpaid invoice'")
    assert suspended["status"] == "suspended"
    payg = cli.ok("account payg acme -u sms --price 2.00 --per 1000 --currency USD")
    assert payg["payg"] == {
        "price": "2.00",
        "price_minor": 200,
        "currency": "USD",
        "per": "1000.00",
        "per_steps": 100000,
    }
    assert cli.ok("account payg acme -u sms --off")["payg"] is None
    assert "Acme EU" in cli.text("account list")
    assert "Europe/Paris" in cli.text("account show acme")


def test_plans_and_packages_make_the_catalogue(cli: Cli) -> None:
    rolling = cli.ok(
        "plan create acy-20k --name Multi-site -u email -c 20000 --days 30 --seats 3 "
        "--price 49.90 --currency EUR"
    )
    assert (rolling["period"], rolling["price"], rolling["price_minor"]) == (
        "30 days",
        "49.90",
        4990,
    )
    monthly = cli.ok("plan create wl-1m --name 'White label' -u email -c 1000000 --monthly --ips 1")
    assert (monthly["period_kind"], monthly["dedicated_ips"]) == ("monthly", 1)
    assert [p["code"] for p in cli.ok("plan list")["plans"]] == ["acy-20k", "wl-1m"]
    small = cli.ok(
        "package create dm-10k --name 10k -u email -c 10000 --months 6 --price 18 --currency USD"
    )
    assert (small["validity"], small["credits_steps"], small["price"]) == (
        "6 months",
        10000,
        "18.00",
    )
    cli.ok("package create sms-1k --name 1k -u sms -c 1000 --months 24 --price 65 --currency EUR")
    assert [p["code"] for p in cli.ok("package list -u sms")["packages"]] == ["sms-1k"]
    assert "6 months" in cli.text("package list")
    assert "30 days" in cli.text("plan list")


def test_a_bigger_package_may_not_cost_more_per_credit(cli: Cli) -> None:
    cli.ok("package create small --name s -u email -c 1000 --months 6 --price 2 --currency USD")
    error = cli.fails(
        3, "package create big --name b -u email -c 2000 --months 6 --price 5 --currency USD"
    )
    assert "bigger packages must not be dearer per credit" in error["message"]


def test_packages_are_drawn_soonest_expiry_first_then_pay_as_you_go(cli: Cli) -> None:
    """DirectMail: 6-month packages, each its own lot; soonest expiry first; then overage."""
    cli.ok(
        "package create dm-10k --name 10k -u email -c 10000 --months 6 --price 18 --currency USD"
    )
    cli.ok(
        "package create dm-50k --name 50k -u email -c 50000 --months 6 --price 80 --currency USD"
    )
    cli.setup_acme(credits="")
    first = cli.ok("package buy acme dm-10k --key buy-1")
    second = cli.ok("package buy acme dm-50k --key buy-2", now="2026-06-01T09:00:00Z")
    assert (first["expires_at"], first["price"]) == ("2026-10-01T09:00:00+00:00", "18.00")
    cli.ok("account payg acme -u email --price 2 --per 1000 --currency USD")
    done = cli.ok("charge acme -u email -c 61000", now="2026-07-01T09:00:00Z")
    drawn = [(d["lot_id"], d["credits"]) for d in done["drawn"]]
    assert drawn == [(first["lot_id"], "10000"), (second["lot_id"], "50000")]
    assert (done["overage"], done["balance"]) == ("1000", "0")
    assert cli.ok("balance acme -u email")["overage_steps"] == 1000


def test_buying_a_package_extends_live_packages_when_the_unit_says_so(cli: Cli) -> None:
    """SMS platform: 2-year packages; to extend the expiry, buy a new package."""
    cli.ok("unit policy sms --extend-on-purchase")
    cli.ok("package create sms-1k --name 1k -u sms -c 1000 --months 24 --price 65 --currency EUR")
    cli.setup_acme(credits="")
    first = cli.ok("package buy acme sms-1k --key a")
    second = cli.ok("package buy acme sms-1k --key b", now="2027-01-01T09:00:00Z")
    assert second["extended_lots"] == [first["lot_id"]]
    lots = cli.ok("lots acme -u sms", now="2027-01-01T09:00:00Z")["lots"]
    assert {lot["expires_at"] for lot in lots} == {"2029-01-01T09:00:00+00:00"}


def test_subscribe_list_and_cancel(cli: Cli) -> None:
    cli.setup_acme(credits="")
    cli.ok("plan create p30 --name p30 -u email -c 20000 --days 30")
    sub = cli.ok("subscribe acme p30")
    assert (sub["plan"], sub["next_renewal_at"]) == ("p30", "2026-05-01T09:00:00+00:00")
    assert [s["id"] for s in cli.ok("subscription list acme")["subscriptions"]] == [sub["id"]]
    assert cli.ok("account show acme")["subscriptions"][0]["plan"] == "p30"
    assert cli.ok(f"subscription cancel {sub['id']}")["status"] == "cancelled"
    assert "cancelled" in cli.text("subscription list acme")


def test_balance_shows_credits_left_and_the_next_reset(cli: Cli) -> None:
    """AcyMailing: credits left in the current 30-day period and the next reset date."""
    cli.setup_acme(credits="")
    cli.ok("plan create p30 --name p30 -u email -c 20000 --days 30")
    cli.ok("subscribe acme p30")
    cli.ok("charge acme -u email -c 4200", now="2026-04-05T09:00:00Z")
    summary = cli.ok("balance acme -u email")
    assert summary["periods"] == [
        {
            "plan": "p30",
            "credits": "20000",
            "credits_steps": 20000,
            "left": "15800",
            "left_steps": 15800,
            "started_at": "2026-04-01T09:00:00+00:00",
            "next_reset_at": "2026-05-01T09:00:00+00:00",
        }
    ]
    assert (summary["balance"], summary["available"], summary["reserved"]) == (
        "15800",
        "15800",
        "0",
    )
    table = cli.text("balance acme -u email")
    for shown in ("credits left", "next reset", "15800", "2026-05-01 09:00 UTC"):
        assert shown in table


def test_grant_and_correct_with_reasons(cli: Cli) -> None:
    cli.setup_acme(credits="")
    given = cli.ok("grant acme -u sms -c 12.5 --reason goodwill --adjustment --expires 2026-12-31")
    assert (given["credits"], given["credits_steps"], given["balance"]) == ("12.50", 1250, "12.50")
    lot = cli.ok("lots acme -u sms")["lots"][0]
    assert (lot["source"], lot["expires_at"]) == ("adjustment", "2026-12-31T00:00:00+00:00")
    taken = cli.ok("correct acme -u sms -c 2.25 --reason 'double grant'")
    assert (taken["credits"], taken["balance"]) == ("-2.25", "10.25")
    assert "10.25" in cli.text("lots acme -u sms")


def test_charge_draws_and_a_replayed_key_charges_nothing_more(cli: Cli) -> None:
    cli.setup_acme()
    done = cli.ok("charge acme -u email -c 250 --key msg-1 --reference m1")
    assert (done["credits"], done["balance"], done["replayed"]) == ("250", "750", False)
    again = cli.ok("charge acme -u email -c 250 --key msg-1 --reference m1")
    assert (again["balance"], again["replayed"]) == ("750", True)
    assert cli.ok("balance acme -u email")["balance_steps"] == 750
    line = cli.text("charge acme -u email -c 50")
    assert line == "charged 50 email to acme: lot 1 50; balance 700, available 700\n"


def test_reserve_capture_and_release(cli: Cli) -> None:
    """SMS platform: available = balance - what scheduled sends reserve."""
    cli.setup_acme(credits="")
    cli.ok("grant acme -u sms -c 100 --reason start")
    held = cli.ok("reserve acme -u sms -c 30.50 --deadline 2026-04-02T09:00:00Z")
    assert (held["status"], held["held"], held["available"]) == ("held", "30.50", "69.50")
    summary = cli.ok("balance acme -u sms")
    assert (summary["balance"], summary["reserved"], summary["available"]) == (
        "100.00",
        "30.50",
        "69.50",
    )
    spent = cli.ok(f"capture {held['id']} -c 20")
    assert (spent["status"], spent["captured"], spent["available"]) == (
        "captured",
        "20.00",
        "80.00",
    )
    other = cli.ok("reserve acme -u sms -c 10 --deadline 2026-04-03")
    assert cli.ok(f"release {other['id']}")["status"] == "released"
    assert cli.ok("balance acme -u sms")["available"] == "80.00"


def test_a_reservation_past_its_deadline_is_released_by_tick(cli: Cli) -> None:
    cli.setup_acme()
    held = cli.ok("reserve acme -u email -c 300 --deadline 2026-04-02T09:00:00Z")
    assert cli.ok("tick", now="2026-04-02T08:59:59Z")["timeouts"] == 0
    assert cli.ok("tick", now="2026-04-02T09:00:00Z")["timeouts"] == 1
    summary = cli.ok("balance acme -u email")
    assert (summary["available"], summary["reserved"]) == ("1000", "0")
    assert cli.fails(5, f"capture {held['id']} -c 1")["code"] == "invalid_state"


def test_tick_renews_a_plan_and_expires_a_package_as_now_moves(cli: Cli) -> None:
    """Mailpro: unused period credits do not roll over; DirectMail: packages expire."""
    cli.setup_acme(credits="")
    cli.ok("plan create m5k --name 5k -u email -c 5000 --monthly")
    cli.ok("package create pk --name pk -u email -c 100 --days 10 --price 1 --currency EUR")
    cli.ok("subscribe acme m5k --anchor-day 1")
    cli.ok("charge acme -u email -c 3000")
    cli.ok("package buy acme pk")  # after the charge: it expires unused
    assert cli.ok("tick")["events"] == []
    done = cli.ok("tick", now="2026-05-01T00:00:00Z")
    assert (done["renewals"], done["expiries"]) == (1, 2)
    summary = cli.ok("balance acme -u email", now="2026-05-01T00:00:00Z")
    assert summary["balance"] == "5000"
    assert summary["periods"][0]["next_reset_at"] == "2026-06-01T00:00:00+00:00"
    expired = cli.ok("journal --account acme --kind expire")["entries"]
    assert sorted(e["delta"] for e in expired) == ["-100", "-2000"]
    assert cli.ok("tick", now="2026-05-01T00:00:00Z")["events"] == []
    assert cli.text("tick", now="2026-05-01T00:00:00Z").startswith("0 events")


def test_journal_filters_and_pages(cli: Cli) -> None:
    cli.setup_acme()
    cli.ok("account create beta --name Beta --email b@beta.test")
    cli.ok("grant beta -u sms -c 5 --reason hi", now="2026-04-03T00:00:00Z")
    for day in (2, 3, 4):
        cli.ok("charge acme -u email -c 10", now=f"2026-04-0{day}T12:00:00Z")
    everything = cli.ok("journal")["entries"]
    assert len(everything) == 5
    charges = cli.ok("journal --account acme --kind charge")["entries"]
    assert [e["kind"] for e in charges] == ["charge"] * 3
    assert [e["unit"] for e in cli.ok("journal --unit sms")["entries"]] == ["sms"]
    window = cli.ok("journal --since 2026-04-03 --until 2026-04-04T00:00:00Z")["entries"]
    assert [(e["account"], e["kind"]) for e in window] == [("beta", "grant"), ("acme", "charge")]
    page = cli.ok(f"journal --after {everything[1]['seq']} --limit 2")["entries"]
    assert [e["seq"] for e in page] == [everything[2]["seq"], everything[3]["seq"]]
    assert (page[0]["delta"], page[0]["delta_steps"]) == ("-10", -10)
    assert "charge" in cli.text("journal --account acme")


def test_verify_passes_on_clean_books(cli: Cli) -> None:
    cli.setup_acme()
    cli.ok("charge acme -u email -c 1")
    checked = cli.ok("verify")
    assert (checked["ok"], checked["entries"]) == (True, 2)
    assert cli.text("verify").startswith("books balance")


def test_amounts_come_as_decimal_strings_beside_their_steps(cli: Cli) -> None:
    cli.setup_acme(credits="")
    done = cli.ok("grant acme -u sms -c 0.05 --reason tiny")
    assert (done["credits"], done["credits_steps"]) == ("0.05", 5)
    summary = cli.ok("balance acme -u sms")
    for name in ("balance", "reserved", "assigned", "available", "overage"):
        assert isinstance(summary[name], str)
        assert isinstance(summary[f"{name}_steps"], int)
