"""Requests for a dedicated IP: the owner asks, the operator decides, nothing is automatic.

"Dedicated IPs won't be activated on demand, it will depend on your sending volume, statistics
and actual needs" [AcyMailing]. So a request freezes the sender's figures at the moment it is made
(its volume over the last 30 days and its rates over the last 7) for the operator to judge, and
only an operator's approval grants it. Rates are kept as counts (so many of so many), never as
floats: ``Ratio.basis_points`` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from postmeter.domain.errors import InvalidInput, InvalidState, Refused
from postmeter.domain.statuses import OPERATOR, OWNER
from postmeter.domain.validate import check_instant, check_text

PENDING = "pending"
APPROVED = "approved"
REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Ratio:
    """``part`` of ``whole``: e.g. 12 hard bounces of 4,000 sent.

    >>> Ratio(12, 4_000).basis_points
    30
    """

    part: int
    whole: int

    def __post_init__(self) -> None:
        if not 0 <= self.part <= self.whole:
            raise InvalidInput(f"a rate needs 0 <= part <= whole, not {self.part}/{self.whole}")

    @property
    def basis_points(self) -> int | None:
        """The rate in hundredths of a percent, rounded half up; None when nothing was sent."""
        if self.whole == 0:
            return None
        return (self.part * 20_000 + self.whole) // (2 * self.whole)


@dataclass(frozen=True, slots=True)
class SenderFigures:
    """What the operator judges a request on, as it stood when the owner asked."""

    volume_30d: int
    delivered_7d: Ratio
    hard_bounced_7d: Ratio
    complained_7d: Ratio

    def __post_init__(self) -> None:
        if self.volume_30d < 0:
            raise InvalidInput(f"a volume cannot be negative, not {self.volume_30d}")


@dataclass(frozen=True, slots=True)
class IpRequest:
    sender_id: int
    asked_by: str
    asked_at: datetime
    figures: SenderFigures
    state: str = PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


def ask_for_ip(
    sender_id: int, figures: SenderFigures, *, role: str, by: str, at: datetime
) -> IpRequest:
    """The owner's request, with the sender's figures of this moment."""
    if role != OWNER:
        raise Refused(f"only the owner asks for a dedicated IP, not the {role}", role=role)
    return IpRequest(
        sender_id, check_text(by, "who asks"), check_instant(at, "the request's time"), figures
    )


def approve_ip(
    request: IpRequest, *, role: str, by: str, at: datetime, reason: str | None = None
) -> IpRequest:
    return _decide(request, APPROVED, role, by, at, reason)


def refuse_ip(request: IpRequest, *, role: str, by: str, at: datetime, reason: str) -> IpRequest:
    """The operator's no; the reason is what the owner is told."""
    check_text(reason, "the reason to refuse", 500)
    return _decide(request, REFUSED, role, by, at, reason)


def _decide(
    request: IpRequest, state: str, role: str, by: str, at: datetime, reason: str | None
) -> IpRequest:
    if role != OPERATOR:
        raise Refused(f"only the operator decides on a dedicated IP, not the {role}", role=role)
    if request.state != PENDING:
        raise InvalidState(
            f"the request for sender {request.sender_id} was {request.state} already",
            state=request.state,
        )
    decided_at = check_instant(at, "the decision's time")
    if decided_at < request.asked_at:
        raise InvalidInput("a request cannot be decided before it was made")
    if reason is not None:
        check_text(reason, "the reason", 500)
    return replace(
        request,
        state=state,
        decided_by=check_text(by, "who decides"),
        decided_at=decided_at,
        reason=reason,
    )
