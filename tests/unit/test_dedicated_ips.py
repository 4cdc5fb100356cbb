"""A dedicated IP is asked for by the owner with the sender's figures of that moment, and
granted or refused by the operator only: never on demand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postmeter.domain.dedicated_ips import (
    APPROVED,
    PENDING,
    REFUSED,
    IpRequest,
    Ratio,
    SenderFigures,
    approve_ip,
    ask_for_ip,
    refuse_ip,
)
from postmeter.domain.errors import InvalidInput, InvalidState, Refused
from postmeter.domain.statuses import OPERATOR, OWNER, SYSTEM

ASKED_AT = datetime(2026, 4, 9, 10, 0, tzinfo=UTC)
LATER = ASKED_AT + timedelta(days=1)
# 120,000 sent in 30 days; over 7 days 29,400 of 30,000 delivered, 90 hard bounces, 6 complaints.
FIGURES = SenderFigures(
    volume_30d=120_000,
    delivered_7d=Ratio(29_400, 30_000),
    hard_bounced_7d=Ratio(90, 30_000),
    complained_7d=Ratio(6, 30_000),
)


def asked() -> IpRequest:
    return ask_for_ip(7, FIGURES, role=OWNER, by="ann@example.com", at=ASKED_AT)


@pytest.mark.parametrize(
    ("part", "whole", "basis_points"),
    [
        (29_400, 30_000, 9_800),  # 98%
        (90, 30_000, 30),  # 0.3%
        (6, 30_000, 2),  # 0.02%
        (1, 3, 3_333),
        (2, 3, 6_667),  # rounded half up, not down
        (1, 20_000, 1),  # exactly half a basis point rounds up
        (0, 5, 0),
        (5, 5, 10_000),
        (0, 0, None),  # nothing sent: no rate, not 0%
    ],
)
def test_rates_are_counts_shown_in_basis_points(
    part: int, whole: int, basis_points: int | None
) -> None:
    assert Ratio(part, whole).basis_points == basis_points


@pytest.mark.parametrize(("part", "whole"), [(-1, 5), (6, 5), (1, 0)])
def test_a_rate_is_a_part_of_its_whole(part: int, whole: int) -> None:
    with pytest.raises(InvalidInput, match="part <= whole"):
        Ratio(part, whole)


def test_a_request_keeps_the_figures_of_the_moment_it_was_made_and_waits() -> None:
    request = asked()
    assert (request.sender_id, request.state, request.asked_by) == (7, PENDING, "ann@example.com")
    assert request.figures.hard_bounced_7d.basis_points == 30
    assert request.decided_by is None


@pytest.mark.parametrize("role", [OPERATOR, SYSTEM])
def test_only_the_owner_asks(role: str) -> None:
    with pytest.raises(Refused, match="only the owner"):
        ask_for_ip(7, FIGURES, role=role, by="ops", at=ASKED_AT)


def test_the_operator_approves() -> None:
    request = approve_ip(asked(), role=OPERATOR, by="ops", at=LATER)
    assert (request.state, request.decided_by, request.decided_at) == (APPROVED, "ops", LATER)
    assert request.figures == FIGURES


def test_the_operator_refuses_with_a_reason() -> None:
    request = refuse_ip(asked(), role=OPERATOR, by="ops", at=LATER, reason="volume too low")
    assert (request.state, request.reason) == (REFUSED, "volume too low")
    with pytest.raises(InvalidInput, match="reason"):
        refuse_ip(asked(), role=OPERATOR, by="ops", at=LATER, reason=" ")


@pytest.mark.parametrize("role", [OWNER, SYSTEM])
def test_nobody_but_the_operator_grants_one(role: str) -> None:
    with pytest.raises(Refused, match="only the operator decides"):
        approve_ip(asked(), role=role, by="ann@example.com", at=LATER)


def test_a_request_is_decided_once() -> None:
    approved = approve_ip(asked(), role=OPERATOR, by="ops", at=LATER)
    with pytest.raises(InvalidState, match="approved already"):
        refuse_ip(approved, role=OPERATOR, by="ops", at=LATER, reason="changed my mind")


def test_times_are_aware_and_in_order() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        ask_for_ip(7, FIGURES, role=OWNER, by="ann", at=datetime(2026, 4, 9, 10, 0))
    with pytest.raises(InvalidInput, match="before it was made"):
        approve_ip(asked(), role=OPERATOR, by="ops", at=ASKED_AT - timedelta(seconds=1))
