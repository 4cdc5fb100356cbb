"""Child accounts through the command line: the white-label seed to the credit, the transfer
history, moving an account, and every bad input refused with its exit code and the books as they
were."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_cli import Cli

MARCH_12 = "2026-03-12T10:00:00+01:00"
APRIL_9 = "2026-04-09T10:00:00+02:00"
APRIL_12 = "2026-04-12T00:00:00+02:00"


@pytest.fixture
def cli(db_url: str) -> Cli:
    """The seed's reseller, subscribed on March 12th to a plan renewing on the 12th."""
    cli = Cli(db_url, now=MARCH_12)
    cli.ok(
        "plan create wl-1m --name 'White label' -u email -c 1_000_000 --monthly --seats 3 --ips 1"
    )
    cli.ok("account create whitelabel --name 'White Label Ltd' --email ops@wl.test "
           "--timezone Europe/Paris")  # fmt: skip
    cli.ok("subscribe whitelabel wl-1m --anchor-day 12 --key sub-1")
    for n in (1, 2):
        cli.ok(f"account create shop-{n} --name 'Shop {n}' --email owner@shop{n}.test "
               "--timezone Europe/Paris --parent whitelabel")  # fmt: skip
    return cli


def abcd(cli: Cli, now: str | None = None) -> tuple[int, int, int, int]:
    books = cli.ok("reseller whitelabel -u email", now=now)
    return books["a_steps"], books["b_steps"], books["c_steps"], books["d_steps"]


def test_the_white_label_seed_to_the_credit(cli: Cli) -> None:
    done = cli.ok("transfer whitelabel shop-1 -u email -c 300000 --key t-1")
    assert (done["credits"], done["credits_steps"], done["parent_available"]) == (
        "300000",
        300_000,
        "700000",
    )
    cli.ok("transfer whitelabel shop-2 -u email -c 200000 --key t-2")
    cli.ok("charge shop-1 -u email -c 150000 --key send-1", now="2026-03-20T10:00:00Z")
    cli.ok("charge shop-2 -u email -c 50000 --key send-2", now="2026-04-01T10:00:00Z")

    assert abcd(cli, APRIL_9) == (1_000_000, 500_000, 300_000, 200_000)
    summary = cli.ok("reseller whitelabel -u email", now=APRIL_9)
    assert summary["plan_name"] == "White label"
    assert (summary["users_created"], summary["users_allowed"]) == (2, 3)
    assert (summary["dedicated_ips"], summary["renews_at"]) == (1, "2026-04-11T22:00:00+00:00")
    text = cli.text("reseller whitelabel -u email", now=APRIL_9)
    rows = [" ".join(row.split()) for row in text.splitlines()]
    for row in (
        "A plan credits this period 1000000",
        "B available to assign 500000",
        "C assigned, not yet used 300000",
        "D used by children this period 200000",
        "plan White label (wl-1m)",
        "users 2 / 3",
        "dedicated IPs 1",
        "renews 2026-04-12 00:00 CEST",
    ):
        assert row in rows, text

    assert cli.ok("tick", now=APRIL_12)["renewals"] == 1
    assert abcd(cli, APRIL_12) == (1_000_000, 700_000, 300_000, 0)
    assert cli.ok("verify", now=APRIL_12)["ok"] is True


def test_take_back_and_the_transfer_history(cli: Cli) -> None:
    cli.ok("transfer whitelabel shop-1 -u email -c 300000 --reason 'April budget' --key t-1")
    again = cli.ok(
        "transfer whitelabel shop-1 -u email -c 300000 --reason 'April budget' --key t-1"
    )
    assert again["replayed"] is True
    back = cli.ok("take-back whitelabel shop-1 -u email -c 100000 --key b-1")
    assert (back["credits"], back["credits_steps"], back["child_balance"]) == (
        "-100000",
        -100_000,
        "200000",
    )
    assert abcd(cli) == (1_000_000, 800_000, 200_000, 0)
    history = cli.ok("transfers whitelabel")["transfers"]
    assert [
        (h["at"], h["child"], h["child_email"], h["child_name"], h["credits"], h["actor"])
        for h in history
    ] == [
        ("2026-03-12T09:00:00+00:00", "shop-1", "owner@shop1.test", "Shop 1", "300000", "operator"),
        ("2026-03-12T09:00:00+00:00", "shop-1", "owner@shop1.test", "Shop 1", "-100000",
         "operator"),
    ]  # fmt: skip
    cli.ok("--actor alice@wl.test transfer whitelabel shop-2 -u email -c 5 --key t-2")
    text = cli.text("transfers whitelabel --child shop-2")
    for shown in ("owner@shop2.test", "Shop 2", "+5", "alice@wl.test"):
        assert shown in text, text
    assert "-100000" in cli.text("transfers whitelabel -u email")
    assert cli.ok(f"transfers whitelabel --after {history[0]['id']} --limit 1")["transfers"] == [
        history[1]
    ]
    line = cli.text("take-back whitelabel shop-1 -u email -c 1 --key b-2")
    assert line.startswith("took back 1 email from shop-1 to whitelabel"), line
    assert cli.ok("verify")["ok"] is True


def test_an_account_moves_inside_its_tree(cli: Cli) -> None:
    cli.ok("account create shop-1-eu --name 'Shop 1 EU' --email eu@shop1.test --parent shop-1")
    moved = cli.ok("account move shop-1-eu --parent whitelabel --reason 'direct customer'")
    assert moved["parent"] == "whitelabel"
    assert "now under shop-2" in cli.text("account move shop-1-eu --parent shop-2")


# -- bad input: its own error and exit code, and the books as they were -----------------------


@pytest.fixture
def trees(cli: Cli) -> Cli:
    cli.ok("account create shop-1-eu --name 'Shop 1 EU' --email eu@shop1.test --parent shop-1")
    cli.ok("account create other --name Other --email o@other.test")
    cli.ok("account create other-shop --name 'Other shop' --email s@other.test --parent other")
    cli.ok("grant other -u email -c 1000 --reason opening")
    cli.ok("transfer whitelabel shop-1 -u email -c 300000 --key t-1")
    cli.ok("transfer other other-shop -u email -c 500 --key t-o")
    cli.ok("account create shop-3 --name 'Shop 3' --email s3@x.test --parent whitelabel")
    cli.ok("account status shop-2 suspended --reason 'unpaid invoice'")
    return cli


BAD: list[tuple[str, int, str, dict[str, Any]]] = [
    ("transfer whitelabel other-shop -u email -c 10", 6, "outside_tree",
     {"parent": "whitelabel", "child": "other-shop"}),
    ("take-back whitelabel shop-1 -u email -c 300001", 6, "insufficient_credits",
     {"account": "shop-1", "unit": "email", "shortfall": "1", "shortfall_steps": 1,
      "available": "300000", "available_steps": 300_000}),
    ("transfer whitelabel shop-2 -u email -c 10", 6, "account_inactive",
     {"account": "shop-2", "status": "suspended"}),
    ("account move whitelabel --parent shop-1-eu", 3, "invalid_input", {}),
    ("transfer whitelabel shop-1-eu -u email -c 10", 6, "refused",
     {"parent": "whitelabel", "child": "shop-1-eu"}),
    ("transfer whitelabel shop-3 -u email -c 700001", 6, "insufficient_credits",
     {"shortfall": "1", "shortfall_steps": 1}),
    ("account create shop-4 --name 'Shop 4' --email s4@x.test --parent whitelabel", 6,
     "seats_exhausted", {"users_created": 3, "users_allowed": 3}),
    ("subscribe shop-1 wl-1m --anchor-day 12", 6, "refused", {"account": "shop-1"}),
    ("account move shop-2 --parent other", 6, "outside_tree", {}),
    ("account move shop-1 --parent shop-3", 5, "invalid_state", {"account": "shop-1"}),
    ("transfer whitelabel nobody -u email -c 10", 4, "not_found", {"account": "nobody"}),
    ("transfer whitelabel shop-1 -u email -c 0", 3, "invalid_amount", {}),
    ("transfer whitelabel shop-1 -u email -c 1.5", 3, "invalid_amount", {}),
    ("transfer whitelabel shop-1 -u email -c 300001 --key t-1", 5, "idempotency_key_reused", {}),
    ("reseller shop-1 -u email", 4, "not_found", {"account": "shop-1", "unit": "email"}),
]  # fmt: skip


@pytest.mark.parametrize(("command", "exit_code", "code", "details"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_its_code_and_changes_nothing(
    trees: Cli, command: str, exit_code: int, code: str, details: dict[str, Any]
) -> None:
    books, history = trees.books(), trees.ok("transfers whitelabel")
    accounts = trees.ok("account list")
    error = trees.fails(exit_code, command)
    assert error["code"] == code
    for name, value in details.items():
        assert error["details"][name] == value, error
    assert trees.books() == books
    assert trees.ok("transfers whitelabel") == history
    assert trees.ok("account list") == accounts
    assert trees.ok("verify")["ok"] is True


def test_a_cycle_names_the_loop(trees: Cli) -> None:
    error = trees.fails(3, "account move shop-1 --parent shop-1-eu")
    assert "loop" in error["message"]


def test_usage_errors_are_typers_own(trees: Cli) -> None:
    assert trees.run("transfer whitelabel").exit_code == 2
    assert trees.run("take-back whitelabel shop-1 -u email").exit_code == 2
    assert trees.run("transfers whitelabel --limit many").exit_code == 2
    assert trees.run("account move shop-1").exit_code == 2
