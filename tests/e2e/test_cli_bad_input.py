"""Bad input at the command line: one clear line, a non-zero exit, and the books unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.test_cli import Cli

INVALID, NOT_FOUND, CONFLICT = 3, 4, 5
BIG = "9223372036854775808"  # 2^63


@pytest.fixture
def cli(db_url: str) -> Cli:
    cli = Cli(db_url)
    cli.setup_acme()
    cli.ok("grant acme -u sms -c 100 --reason welcome")
    cli.ok("plan create p30 --name p30 -u email -c 500 --days 30")
    cli.ok("package create pk --name pk -u sms -c 10 --months 1 --price 1 --currency EUR")
    assert cli.ok("reserve acme -u sms -c 5 --deadline 2026-04-02")["id"] == 1
    return cli


@contextmanager
def unchanged(cli: Cli) -> Iterator[None]:
    """The journal and every balance are the same after the block, and the books verify."""
    before = _state(cli)
    yield
    assert _state(cli) == before
    assert cli.ok("verify")["ok"] is True


def _state(cli: Cli) -> object:
    # The journal holds every credit that moved (and every hold); verify ties the cached
    # balances to it. Accounts and subscriptions are not in the journal: compare them too.
    return cli.books(), cli.ok("account list"), cli.ok("subscription list acme")


GRANT = "grant acme -u email -c 5 --reason x"
RESERVE = "reserve acme -u email -c 5"

# (what, command, exit code, error code, what the message says)
CASES = [
    ("unknown account: charge", "charge nobody -u email -c 5", NOT_FOUND, "no account 'nobody'"),
    ("unknown account: grant", "grant nobody -u email -c 5 --reason x", NOT_FOUND, "'nobody'"),
    ("unknown account: correct", "correct nobody -u email -c 5 --reason x", NOT_FOUND, "'nobody'"),
    (
        "unknown account: reserve",
        "reserve nobody -u sms -c 5 --deadline 2026-04-02",
        NOT_FOUND,
        "no account 'nobody'",
    ),
    ("unknown account: buy", "package buy nobody pk", NOT_FOUND, "no account 'nobody'"),
    ("unknown account: subscribe", "subscribe nobody p30", NOT_FOUND, "no account 'nobody'"),
    ("unknown account: balance", "balance nobody -u email", NOT_FOUND, "no account 'nobody'"),
    ("unknown account: journal", "journal --account nobody", NOT_FOUND, "no account 'nobody'"),
    ("unknown unit", "charge acme -u fax -c 5", NOT_FOUND, "no unit 'fax'"),
    ("unknown package", "package buy acme nope", NOT_FOUND, "no package 'nope'"),
    ("unknown reservation", "capture 999 -c 1", NOT_FOUND, "no reservation 999"),
    ("zero", "charge acme -u email -c 0", INVALID, "--credits: '0' is zero"),
    ("zero in decimals", "charge acme -u sms -c 0.00", INVALID, "'0.00' is zero"),
    ("zero grant", "grant acme -u email -c 0 --reason x", INVALID, "'0' is zero"),
    ("zero reservation", "reserve acme -u email -c 0 --deadline 2026-04-02", INVALID, "is zero"),
    ("zero correction", "correct acme -u email -c 0 --reason x", INVALID, "'0' is zero"),
    ("negative", "charge acme -u email -c -5", INVALID, "'-5' is negative"),
    ("negative fraction", "charge acme -u sms -c -0.5", INVALID, "'-0.5' is negative"),
    ("negative grant", "grant acme -u email -c -1 --reason x", INVALID, "'-1' is negative"),
    ("negative capture", "capture 1 -c -1", INVALID, "'-1' is negative"),
    ("2^63", f"charge acme -u email -c {BIG}", INVALID, "larger than 2^63 - 1"),
    ("2^63 steps of sms", "charge acme -u sms -c 92233720368547758.08", INVALID, "2^63 - 1"),
    ("2^63 grant", f"grant acme -u email -c {BIG} --reason x", INVALID, "larger than 2^63 - 1"),
    ("far above 2^63", "charge acme -u email -c 1" + "0" * 30, INVALID, "larger than 2^63"),
    (
        "decimals on a whole unit",
        "charge acme -u email -c 1.5",
        INVALID,
        "'1.5' has more decimals than the unit allows (0)",
    ),
    (
        "three decimals of sms",
        "charge acme -u sms -c 1.005",
        INVALID,
        "'1.005' has more decimals than the unit allows (2)",
    ),
    ("not a number", "charge acme -u email -c ten", INVALID, "'ten' is not a decimal number"),
    ("an exponent", "charge acme -u email -c 1e3", INVALID, "'1e3' is not a decimal number"),
    ("a thousands separator", "charge acme -u email -c 1,000", INVALID, "not a decimal number"),
    ("an empty amount", "charge acme -u email -c ''", INVALID, "'' is not a decimal number"),
    (
        "--expires not a date",
        f"{GRANT} --expires 2026-02-30",
        INVALID,
        "--expires: '2026-02-30' is not a valid date",
    ),
    (
        "--expires without offset",
        f"{GRANT} --expires 2026-05-01T10:00",
        INVALID,
        "--expires: '2026-05-01T10:00' has no time zone offset",
    ),
    (
        "--expires in words",
        f"{GRANT} --expires 'next month'",
        INVALID,
        "--expires: 'next month' is not an ISO 8601 date and time",
    ),
    ("--expires in the past", f"{GRANT} --expires 2026-03-01", INVALID, "must be in the future"),
    (
        "--deadline in words",
        f"{RESERVE} --deadline tomorrow",
        INVALID,
        "--deadline: 'tomorrow' is not an ISO 8601 date and time",
    ),
    (
        "--deadline in the past",
        f"{RESERVE} --deadline 2026-03-31T09:00:00Z",
        INVALID,
        "the deadline must be in the future",
    ),
    ("--deadline beyond a year", f"{RESERVE} --deadline 2027-06-01", INVALID, "within a year"),
    (
        "--since malformed",
        "journal --since 2026/04/01",
        INVALID,
        "--since: '2026/04/01' is not an ISO 8601 date and time",
    ),
    (
        "--until malformed",
        "journal --until 2026-04-31",
        INVALID,
        "--until: '2026-04-31' is not a valid date",
    ),
    ("a negative --limit", "journal --limit -1", INVALID, "limit must be a whole number"),
    ("a bad price", "account payg acme -u email --price 1.234", INVALID, "price '1.234'"),
    (
        "a bad currency",
        "account payg acme -u email --price 1 --currency euro",
        INVALID,
        "currency 'euro'",
    ),
    (
        "a bad time zone",
        "account create z --name Z --email z@z.test --timezone Mars/Base",
        INVALID,
        "unknown time zone 'Mars/Base'",
    ),
    (
        "a bad e-mail",
        "account create z --name Z --email nope",
        INVALID,
        "'nope' is not an e-mail address",
    ),
    (
        "a bad account status",
        "account status acme asleep --reason x",
        INVALID,
        "status must be one of",
    ),
    (
        "a blank reason",
        "grant acme -u email -c 5 --reason ' '",
        INVALID,
        "reason must not be empty",
    ),
    (
        "a key too long",
        "charge acme -u email -c 5 --key " + "k" * 201,
        INVALID,
        "idempotency key must be 1 to 200 characters",
    ),
]


@pytest.mark.parametrize(
    ("command", "exit_code", "says"), [pytest.param(*case[1:], id=case[0]) for case in CASES]
)
def test_bad_input_is_refused_in_one_line_and_changes_nothing(
    cli: Cli, command: str, exit_code: int, says: str
) -> None:
    with unchanged(cli):
        error = cli.fails(exit_code, command)
    expected = {INVALID: ("invalid_input", "invalid_amount"), NOT_FOUND: ("not_found",)}
    assert error["code"] in expected[exit_code]
    assert says in error["message"]


@pytest.mark.parametrize(
    "now", ["yesterday", "2026-04-01 9am", "2026-04-01T09:00:00", "2026-13-01"]
)
def test_a_malformed_now_is_refused(cli: Cli, now: str) -> None:
    with unchanged(cli):
        error = cli.fails(INVALID, "charge acme -u email -c 5", now=now)
    assert error["code"] == "invalid_input"
    assert error["message"].startswith(f"--now: '{now}'")


def test_the_same_key_with_another_request_is_refused(cli: Cli) -> None:
    cli.ok("charge acme -u email -c 10 --key send-1")
    with unchanged(cli):
        error = cli.fails(CONFLICT, "charge acme -u email -c 20 --key send-1")
        assert cli.ok("charge acme -u email -c 10 --key send-1")["replayed"] is True
    assert error["code"] == "idempotency_key_reused"
    assert error["message"] == "idempotency key 'send-1' was used before for a different request"


@pytest.mark.parametrize(
    "second",
    [
        "grant acme -u email -c 5 --reason 'another reason'",
        "package buy acme pk",
        "subscribe acme p30",
        "account create other --name Other --email o@o.test",
        "release 1",
    ],
    ids=["grant", "buy", "subscribe", "account", "release"],
)
def test_a_key_reused_by_any_change_is_refused(cli: Cli, second: str) -> None:
    cli.ok("grant acme -u email -c 5 --reason first --key used")
    with unchanged(cli):
        error = cli.fails(CONFLICT, f"{second} --key used")
    assert error["code"] == "idempotency_key_reused"


def test_a_refused_charge_changes_nothing(cli: Cli) -> None:
    with unchanged(cli):
        error = cli.fails(6, "charge acme -u email -c 1001")
    assert error["message"] == "account 'acme' lacks 1 email credits (available: 1000)"
    assert (error["details"]["shortfall"], error["details"]["shortfall_steps"]) == ("1", 1)


def test_a_refusal_in_sms_says_its_shortfall_in_sms_credits(cli: Cli) -> None:
    with unchanged(cli):
        error = cli.fails(6, "charge acme -u sms -c 95.25")
    assert error["message"] == "account 'acme' lacks 0.25 sms credits (available: 95.00)"
