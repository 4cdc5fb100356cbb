"""The JSON shape of every result: service dataclasses with their amounts in both forms."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import postmeter as pm
from postmeter.cli.output import amount, price
from postmeter.domain.units import Unit
from postmeter.service.grants import Grant
from postmeter.service.reports import EntryView, LotView, PeriodView, Summary


def unit_doc(unit: Unit) -> dict[str, Any]:
    return {
        "code": unit.code,
        "name": unit.name,
        "scale": unit.scale,
        "extend_on_purchase": unit.extend_on_purchase,
        **amount(unit, "signup_credits", unit.signup_credits),
        "signup_days": unit.signup_days,
    }


def plan_doc(plan: pm.Plan, unit: Unit) -> dict[str, Any]:
    return {
        "code": plan.code,
        "name": plan.name,
        "unit": plan.unit,
        **amount(unit, "credits", plan.credits),
        "period": period_text(plan),
        "period_kind": plan.period_kind,
        "period_days": plan.period_days,
        "free": plan.free,
        "seats": plan.seats,
        "dedicated_ips": plan.dedicated_ips,
        **price(plan.price_minor, plan.currency),
    }


def period_text(plan: pm.Plan) -> str:
    return f"{plan.period_days} days" if plan.period_days else "monthly"


def package_doc(package: pm.Package, unit: Unit) -> dict[str, Any]:
    return {
        "code": package.code,
        "name": package.name,
        "unit": package.unit,
        **amount(unit, "credits", package.credits),
        "validity": validity_text(package.validity_months, package.validity_days),
        "validity_months": package.validity_months,
        "validity_days": package.validity_days,
        **price(package.price_minor, package.currency),
        "active": package.active,
    }


def validity_text(months: int, days: int) -> str:
    parts = [f"{months} months"] if months else []
    parts += [f"{days} days"] if days else []
    return " + ".join(parts)


def purchase_doc(purchase: pm.Purchase, unit: Unit) -> dict[str, Any]:
    return {
        "txn_id": purchase.txn_id,
        "account": purchase.account,
        "package": purchase.package,
        "unit": purchase.unit,
        **amount(unit, "credits", purchase.credits),
        "lot_id": purchase.lot_id,
        "expires_at": purchase.expires_at,
        **price(purchase.price_minor, purchase.currency),
        "extended_lots": purchase.extended_lots,
    }


def grant_doc(grant: Grant, unit: Unit) -> dict[str, Any]:
    return {
        "txn_id": grant.txn_id,
        "account": grant.account,
        "unit": grant.unit,
        **amount(unit, "credits", grant.credits),
        "lot_id": grant.lot_id,
        **amount(unit, "balance", grant.balance),
        **amount(unit, "available", grant.available),
    }


def charge_doc(charge: pm.Charge, unit: Unit) -> dict[str, Any]:
    return {
        "txn_id": charge.txn_id,
        "account": charge.account,
        "unit": charge.unit,
        **amount(unit, "credits", charge.credits),
        "drawn": [{"lot_id": lot, **amount(unit, "credits", n)} for lot, n in charge.drawn],
        **amount(unit, "overage", charge.overage),
        **amount(unit, "balance", charge.balance),
        **amount(unit, "available", charge.available),
        "replayed": charge.replayed,
    }


def reservation_doc(res: pm.Reservation, unit: Unit) -> dict[str, Any]:
    return {
        "id": res.id,
        "account": res.account,
        "unit": res.unit,
        **amount(unit, "credits", res.credits),
        **amount(unit, "held", res.held),
        "status": res.status,
        "deadline_at": res.deadline_at,
        **amount(unit, "captured", res.captured),
        **amount(unit, "available", res.available),
    }


def summary_doc(summary: Summary, unit: Unit) -> dict[str, Any]:
    return {
        "account": summary.account,
        "unit": summary.unit,
        "scale": summary.scale,
        **amount(unit, "balance", summary.balance),
        **amount(unit, "reserved", summary.reserved),
        **amount(unit, "assigned", summary.assigned),
        **amount(unit, "available", summary.available),
        **amount(unit, "overage", summary.overage),
        "lots": [lot_doc(lot, unit) for lot in summary.lots],
        "periods": [period_doc(period, unit) for period in summary.periods],
    }


def lot_doc(lot: LotView, unit: Unit) -> dict[str, Any]:
    return {
        "id": lot.id,
        "source": lot.source,
        "package": lot.package,
        "priority": lot.priority,
        **amount(unit, "amount", lot.amount),
        **amount(unit, "remaining", lot.remaining),
        **amount(unit, "held", lot.held),
        "expires_at": lot.expires_at,
        "created_at": lot.created_at,
    }


def period_doc(period: PeriodView, unit: Unit) -> dict[str, Any]:
    return {
        "plan": period.plan,
        **amount(unit, "credits", period.credits),
        **amount(unit, "left", period.left),
        "started_at": period.started_at,
        "next_reset_at": period.next_reset_at,
    }


def entry_doc(entry: EntryView, unit: Unit) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "txn_id": entry.txn_id,
        "at": entry.at,
        "account": entry.account,
        "unit": entry.unit,
        "lot_id": entry.lot_id,
        "kind": entry.kind,
        **amount(unit, "delta", entry.delta),
        **amount(unit, "held_delta", entry.held_delta),
        **amount(unit, "balance_after", entry.balance_after),
        "counterparty": entry.counterparty,
    }


def plain(obj: Any) -> dict[str, Any]:
    """A result without amounts (an account, a subscription) as it is."""
    return asdict(obj)
