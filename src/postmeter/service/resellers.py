"""A reseller's view: A = B + C + D and its plan summary; the seats its plan allows [white label].

A reseller is an account with an active plan that has seats. In the plan's unit, for the current
period (the last one booked):

- A: the plan's credits this period (or C when the period began, if that was more: see
  domain/resellers.py);
- B: available to assign now, the reseller's own available credits (balance - reserved -
  assigned);
- C: assigned to children and not yet used: what they hold of the credits it gave them, reserved
  included (counted by lot, see service/given.py);
- D: used by children this period, from the journal: what left the given lots since the period
  began other than coming back (service/given.py, ``used_since``).

Each is measured on its own, so A = B + C + D is a real check: a renewal that granted A instead
of A - C, a transfer that debited one side more than it credited the other, or a child's own
package counted as given credits would all break it. It holds exactly while the reseller's
credits in the unit are its plan's: a reseller that also sends, reserves or holds credits beyond
its plan (a package, a grant) sees them in B, and ``verify`` checks the identity only for the
others (``keeps_to_its_plan``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from postmeter.domain.books import EXPIRE, GRANT, TRANSFER_IN, TRANSFER_OUT
from postmeter.domain.errors import NotFound
from postmeter.domain.resellers import PlanSummary
from postmeter.service import given, lookup
from postmeter.service.catalogue import Plan, plan
from postmeter.service.context import Context
from postmeter.service.subscriptions import period_rule
from postmeter.store import tables as t
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class ResellerView:
    """The seed's April 9th: ``a=1_000_000, b=500_000, c=300_000, d=200_000``."""

    account: str
    unit: str
    timezone: str
    plan_code: str
    plan: str  # the plan's name
    a: int
    b: int
    c: int
    d: int
    users_created: int  # child accounts that are not closed
    users_allowed: int  # the plan's seats
    dedicated_ips: int
    period_start_at: str
    renews_at: str


@dataclass(frozen=True, slots=True)
class Figures:
    """A, B, C, D of one reseller plan, and what they were measured against."""

    account_id: int
    unit: str
    plan: Plan
    subscription: Any  # the subscription row
    period_index: int
    period_start_at: datetime
    a: int
    b: int
    c: int
    d: int


def reseller_books(ctx: Context, ref: str, unit: str) -> ResellerView:
    """A, B, C, D of ``ref``'s reseller plan in ``unit`` and its plan summary.

    NotFound when the account has no active plan with seats in the unit.
    """
    with ctx.store.read() as tx:
        row = lookup.account(tx, ref)
        lookup.unit(tx, unit)
        fig = figures(tx, row.id, unit)
        if fig is None:
            raise NotFound(
                f"account {ref!r} has no reseller plan (an active plan with seats) in {unit}",
                account=ref,
                unit=unit,
            )
        summary = PlanSummary(
            plan=fig.plan.name,
            users_created=users_created(tx, row.id),
            users_allowed=fig.plan.seats,
            dedicated_ips=fig.plan.dedicated_ips,
            renews_at=fig.subscription.next_renewal_at,
        )
        return ResellerView(
            account=ref,
            unit=unit,
            timezone=row.timezone,
            plan_code=fig.plan.code,
            plan=summary.plan,
            a=fig.a,
            b=fig.b,
            c=fig.c,
            d=fig.d,
            users_created=summary.users_created,
            users_allowed=summary.users_allowed,
            dedicated_ips=summary.dedicated_ips,
            period_start_at=fig.period_start_at.isoformat(),
            renews_at=summary.renews_at.isoformat(),
        )


def figures(tx: Tx, account_id: int, unit: str) -> Figures | None:
    """Measure A, B, C, D of the account's reseller plan in ``unit`` (None without one)."""
    sub = given.reseller_subscription(tx, account_id, unit)
    if sub is None:
        return None
    the_plan = plan(tx, sub.plan_code)
    account = tx.account_by_id(account_id)
    assert account is not None
    index = sub.next_index - 1
    start_at = period_rule(the_plan, sub.started_at, account.timezone, sub.anchor_day).boundary(
        index
    )
    balance = tx.read_balance(account_id, unit)
    c_at_start = given.held_before(tx, account_id, unit, start_at)
    return Figures(
        account_id=account_id,
        unit=unit,
        plan=the_plan,
        subscription=sub,
        period_index=index,
        period_start_at=start_at,
        a=max(the_plan.credits, c_at_start),
        b=balance.available if balance else 0,
        c=given.held(tx, account_id, unit),
        d=given.used_since(tx, account_id, unit, start_at),
    )


def keeps_to_its_plan(tx: Tx, fig: Figures) -> bool:
    """Whether the reseller's credits in the unit are only its plan's this period, so that
    A = B + C + D must hold exactly: nothing reserved or assigned, no lot with credits but the
    period's own (the renewal's lot and what was taken back since), and no entry since the
    period began but its grant, transfers to and from children, and expiries of earlier
    periods."""
    balance = tx.read_balance(fig.account_id, fig.unit)
    if balance is not None and (balance.reserved or balance.assigned):
        return False
    own = _period_lots(tx, fig)
    lots, e = t.lots.c, t.entries.c
    stray_lot = tx.conn.execute(
        select(lots.id)
        .where(
            lots.account_id == fig.account_id,
            lots.unit == fig.unit,
            t.LIVE_LOT,
            lots.id.not_in(own),
        )
        .limit(1)
    ).first()
    if stray_lot is not None:
        return False
    stray_entry = tx.conn.execute(
        select(e.seq)
        .join(t.lots, lots.id == e.lot_id, isouter=True)
        .where(
            e.account_id == fig.account_id,
            e.unit == fig.unit,
            e.created_at >= fig.period_start_at,
            ~or_(
                and_(e.kind.in_((GRANT, TRANSFER_OUT, TRANSFER_IN)), e.lot_id.in_(own)),
                and_(e.kind == EXPIRE, lots.expires_at <= fig.period_start_at),
            ),
        )
        .limit(1)
    ).first()
    return stray_entry is None


def _period_lots(tx: Tx, fig: Figures) -> list[int]:
    """The lots of the current period: the renewal's, and those taken back since it began."""
    lots, tr = t.lots.c, t.transfers.c
    renewal = select(lots.id).where(
        lots.subscription_id == fig.subscription.id, lots.period_index == fig.period_index
    )
    taken_back = (
        select(lots.id)
        .join(t.transfers, and_(tr.txn_id == lots.txn_id, tr.parent_id == lots.account_id))
        .where(
            lots.account_id == fig.account_id,
            lots.unit == fig.unit,
            tr.credits < 0,
            lots.created_at >= fig.period_start_at,
        )
    )
    return [*tx.conn.scalars(renewal), *tx.conn.scalars(taken_back)]


def users_created(tx: Tx, account_id: int) -> int:
    """The account's child accounts that are not closed (each takes a seat)."""
    a = t.accounts.c
    count = tx.conn.execute(
        select(func.count()).where(a.parent_id == account_id, a.status != "closed")
    ).scalar_one()
    return int(count)


def check_seat(tx: Tx, parent: Any) -> None:
    """Refuse one more open child under ``parent`` when its plans' seats are all taken.

    The seats are those of its active plans with seats (the most generous, should it have
    several); a parent without one has no limit. The parent's balance row in that plan's unit is
    locked first, so two children opened at once cannot both take the last seat.
    """
    s, p = t.subscriptions.c, t.plans.c
    best = tx.conn.execute(
        select(p.code, s.next_renewal_at)
        .join(t.plans, p.code == s.plan_code)
        .where(s.account_id == parent.id, s.status == "active", p.seats > 0)
        .order_by(p.seats.desc(), s.id)
        .limit(1)
    ).first()
    if best is None:
        return
    the_plan = plan(tx, best.code)
    tx.lock_balances([(parent.id, the_plan.unit)])
    PlanSummary(
        plan=the_plan.name,
        users_created=users_created(tx, parent.id),
        users_allowed=the_plan.seats,
        dedicated_ips=the_plan.dedicated_ips,
        renews_at=best.next_renewal_at,
    ).add_user()
