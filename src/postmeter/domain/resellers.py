"""A reseller's books, A = B + C + D at every moment, and its plan summary.

From the white-label seed: A is the plan's credits this period, B what the reseller can still
assign to its children, C what children were given and have not used, D what children used this
period. Each move keeps the sum:

- ``transfer_to_child``: B -> C, no more than B;
- ``take_back``: C -> B, no more than the child holds unspent and unreserved of what it was given;
- ``child_used``: C -> D, when a child spends credits it was given;
- ``renew``: C stays (children's credits never expire), D goes to 0, B = A - C. The old B does not
  roll over, and the renewal grants the reseller B new credits, not A: what children hold counts
  against the new period.

A plan cut below what children hold (C > the plan's credits) renews with B = 0 and A = C: children
keep what they were given (it never expires, and nothing is clawed back), the reseller has nothing
new to assign until they spend it or it takes some back, and the books still add up. The other
choices break the sum or take credits from customers who did nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from postmeter.domain.amounts import check_credits
from postmeter.domain.errors import BooksOutOfBalance, InsufficientCredits, SeatsExhausted
from postmeter.domain.validate import check_instant, check_text


@dataclass(frozen=True, slots=True)
class ResellerBooks:
    """The seed's April 9th: ``ResellerBooks(a=1_000_000, b=500_000, c=300_000, d=200_000)``."""

    a: int
    b: int
    c: int
    d: int

    def __post_init__(self) -> None:
        if min(self.a, self.b, self.c, self.d) < 0 or self.a != self.b + self.c + self.d:
            raise BooksOutOfBalance(
                f"reseller books need A = B + C + D, all >= 0: {self.a} = "
                f"{self.b} + {self.c} + {self.d}",
                a=self.a,
                b=self.b,
                c=self.c,
                d=self.d,
            )

    @classmethod
    def opening(cls, plan_credits: int) -> ResellerBooks:
        """A reseller's first period: everything available, nothing given yet."""
        check_credits(plan_credits, allow_zero=True)
        return cls(plan_credits, plan_credits, 0, 0)

    def transfer_to_child(self, credits: int) -> ResellerBooks:
        check_credits(credits)
        if credits > self.b:
            raise InsufficientCredits(
                f"cannot give {credits} credits to a child: {self.b} are available to assign",
                shortfall=credits - self.b,
                available=self.b,
            )
        return replace(self, b=self.b - credits, c=self.c + credits)

    def take_back(self, credits: int, child_free: int) -> ResellerBooks:
        """Take back from a child; ``child_free``: what it holds of the credits it was given,
        neither spent nor reserved (its own packages are its own, never taken)."""
        check_credits(credits)
        if not 0 <= child_free <= self.c:
            raise BooksOutOfBalance(
                f"a child holds {child_free} given credits, all children {self.c}"
            )
        if credits > child_free:
            raise InsufficientCredits(
                f"cannot take back {credits} credits: the child has {child_free} "
                "neither spent nor reserved",
                shortfall=credits - child_free,
                available=child_free,
            )
        return replace(self, b=self.b + credits, c=self.c - credits)

    def child_used(self, credits: int) -> ResellerBooks:
        """A child spent ``credits`` it was given (only those: its own packages are not in C)."""
        check_credits(credits)
        if credits > self.c:
            raise BooksOutOfBalance(f"children used {credits} credits but hold {self.c}")
        return replace(self, c=self.c - credits, d=self.d + credits)

    def renew(self, plan_credits: int) -> ResellerBooks:
        """The next period: C stays, D = 0, B = A - C (B = 0 and A = C when the plan is smaller)."""
        check_credits(plan_credits, allow_zero=True)
        a = max(plan_credits, self.c)
        return ResellerBooks(a, a - self.c, self.c, 0)


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """What a reseller sees of its plan; ``users_created`` counts its child accounts."""

    plan: str
    users_created: int
    users_allowed: int
    dedicated_ips: int
    renews_at: datetime

    def __post_init__(self) -> None:
        check_text(self.plan, "plan name")
        check_instant(self.renews_at, "renewal date")
        if min(self.users_created, self.users_allowed, self.dedicated_ips) < 0:
            raise BooksOutOfBalance(f"negative count in the plan summary of {self.plan!r}")

    @property
    def seats_left(self) -> int:
        return max(self.users_allowed - self.users_created, 0)

    def add_user(self) -> PlanSummary:
        """One more child account, refused when the plan's seats are taken."""
        if self.seats_left == 0:
            raise SeatsExhausted(
                f"plan {self.plan!r} allows {self.users_allowed} users and has "
                f"{self.users_created}: ask for a bigger plan",
                users_created=self.users_created,
                users_allowed=self.users_allowed,
            )
        return replace(self, users_created=self.users_created + 1)
