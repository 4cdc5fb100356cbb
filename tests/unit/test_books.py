"""The cached totals of an account: available is the balance less reserved and assigned."""

from __future__ import annotations

from postmeter.domain.books import Balance, Posting, account_party, reservation_party


def test_available_is_balance_less_reserved_and_assigned() -> None:
    balance = Balance(1, "email", 1, balance=1000, reserved=300, assigned=200)
    assert balance.available == 500
    assert not balance.has_payg


def test_pay_as_you_go_is_on_when_a_price_is_set() -> None:
    balance = Balance(1, "email", 1, 0, 0, 0, payg_price_minor=0, payg_price_per=1000)
    assert balance.has_payg  # a price of zero is still a price


def test_counterparties_name_accounts_and_reservations() -> None:
    assert account_party(7) == "account:7"
    assert reservation_party(3) == "reservation:3"


def test_a_posting_moves_nothing_unless_told() -> None:
    assert (
        Posting(1, "extend", "issuance").delta,
        Posting(1, "extend", "issuance").held_delta,
    ) == (
        0,
        0,
    )
