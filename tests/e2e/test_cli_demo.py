"""``postmeter demo``: each seed's story, loaded idempotently; ``--serve`` ticks until Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from typer.testing import CliRunner

from postmeter.cli.main import app
from tests.e2e.test_cli import Cli

BASE = "2026-04-09T10:00:00Z"  # the white-label seed's "today is April 9th"
POSTMETER = str(Path(sys.executable).parent / "postmeter")


@pytest.fixture
def cli(db_url: str) -> Cli:
    return Cli(db_url, now=BASE)


def stories(demo: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {story["seed"]: story["summary"] for story in demo["stories"]}


def test_demo_loads_once_and_a_second_run_changes_nothing(cli: Cli) -> None:
    first = cli.ok("demo")
    journal = cli.books()
    assert first["entries_added"] == len(journal) > 0
    second = cli.ok("demo", now="2026-04-09T10:00:05Z")
    assert second["entries_added"] == 0
    assert cli.books() == journal
    assert stories(second) == stories(first)
    assert cli.ok("verify")["ok"] is True


def test_demo_on_the_system_clock_is_idempotent_too(db_url: str) -> None:
    def run() -> dict[str, Any]:
        env = {"POSTMETER_DATABASE_URL": None, "POSTMETER_NOW": None}
        result = CliRunner().invoke(app, ["--db", db_url, "--json", "demo"], env=env)
        assert result.exit_code == 0, result.output
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    assert run()["entries_added"] > 0
    assert run()["entries_added"] == 0


def test_acymailing_shows_credits_left_and_the_next_reset(cli: Cli) -> None:
    acy = stories(cli.ok("demo"))["AcyMailing"]
    assert [(p["plan"], p["left"], p["credits"], p["next_reset_at"]) for p in acy["periods"]] == [
        ("acy-multisite-20k", "10000", "20000", "2026-04-27T10:00:00+00:00")
    ]
    table = cli.text("balance acymailing-licence -u email")
    assert "2026-04-27 12:00 CEST" in table  # the licence's own time zone


def test_mailpro_gets_500_at_sign_up_and_unused_monthly_credits_expire(cli: Cli) -> None:
    mailpro = stories(cli.ok("demo"))["Mailpro"]
    assert (mailpro["balance"], mailpro["periods"][0]["left"]) == ("3800", "3800")
    entries = cli.ok("journal --account mailpro-studio")["entries"]
    assert [(e["kind"], e["delta"]) for e in entries] == [
        ("grant", "500"),  # the sign-up credits of the e-mail unit's policy
        ("grant", "5000"),  # the first month
        ("charge", "-500"),  # free credits are drawn first
        ("charge", "-2500"),
        ("expire", "-2500"),  # the first month's unused credits do not roll over
        ("grant", "5000"),  # the second month
        ("charge", "-1200"),
    ]


def test_the_sms_platform_second_package_extends_the_first(cli: Cli) -> None:
    sms = stories(cli.ok("demo"))["SMS platform"]
    assert [(lot["package"], lot["remaining"]) for lot in sms["lots"]] == [
        ("sms-1000", "579.50"),
        ("sms-5000", "5000.00"),
    ]
    assert len({lot["expires_at"] for lot in sms["lots"]}) == 1
    assert (sms["balance"], sms["reserved"], sms["available"]) == ("5579.50", "150.00", "5429.50")


def test_directmail_draws_the_soonest_expiry_first_then_bills_overage(cli: Cli) -> None:
    dm = stories(cli.ok("demo"))["DirectMail"]
    assert (dm["overage"], dm["balance"]) == ("3000", "10000")
    # The demo's own key replays the second send, which drew the older package's last 2,000
    # before touching the newer one.
    again = "charge directmail-shop -u email -c 30000 --reference campaign-2"
    send = cli.ok(f"{again} --key demo:directmail:send2")
    assert send["replayed"] is True
    assert [d["credits"] for d in send["drawn"]] == ["2000", "28000"]


def test_the_white_label_plan_renews_on_the_12th(cli: Cli) -> None:
    reseller = stories(cli.ok("demo"))["White label"]
    assert reseller["periods"][0]["left"] == "1000000"
    # Midnight of April 12th in Paris.
    assert reseller["periods"][0]["next_reset_at"] == "2026-04-11T22:00:00+00:00"
    assert cli.ok("tick", now="2026-04-12T00:00:00+02:00")["renewals"] == 1


def test_demo_prints_a_short_summary(cli: Cli) -> None:
    text = cli.text("demo")
    assert text.startswith("demo data set loaded on ")
    for seed in ("AcyMailing", "Mailpro", "SMS platform", "DirectMail", "White label"):
        assert seed in text
    assert "nothing changed" in cli.text("demo")


def test_demo_serve_answers_over_http_until_ctrl_c(db_url: str) -> None:
    argv = [POSTMETER, "--db", db_url, "--now", BASE, "demo", "--serve", "--port", "0"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            accounts, out = _list_accounts_then_interrupt(proc)
        finally:
            proc.kill()  # a no-op once it has stopped; never leave a server behind a failure
    assert proc.returncode == 0, out
    assert accounts.status_code == 200
    assert "acymailing-licence" in {a["ref"] for a in accounts.json()["items"]}
    assert out.rstrip().endswith("stopped")


def _list_accounts_then_interrupt(proc: subprocess.Popen[str]) -> tuple[httpx2.Response, str]:
    assert proc.stdout is not None
    seen: list[str] = []
    while not any(line.startswith("postmeter API on ") for line in seen):
        line = proc.stdout.readline()
        assert line, f"postmeter stopped before serving: {seen}"
        seen.append(line)
    address = seen[-1].split()[3]  # http://127.0.0.1:PORT/v1
    key = next(line for line in seen if line.startswith("operator API key")).split()[-1]
    accounts = httpx2.get(
        f"{address}/accounts", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=60)
    return accounts, out


def test_the_installed_command_fails_in_one_line(tmp_path: Path) -> None:
    argv = [POSTMETER, "--db", f"sqlite:///{tmp_path}/x.db", "charge", "acme", "-u", "email"]
    argv += ["-c", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 8
    assert done.stderr == (
        f"error: database_error: no database at {tmp_path}/x.db: create it with `postmeter init`\n"
    )
