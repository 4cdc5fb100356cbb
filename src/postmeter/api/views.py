"""Service results as JSON: amounts as decimal strings in their unit's scale."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import postmeter as pm
from postmeter.domain.amounts import format_credits
from postmeter.domain.money import exponent
from postmeter.domain.units import Unit
from postmeter.service.grants import Grant
from postmeter.service.keys import KeyInfo
from postmeter.service.reports import EntryView, Summary


def account(a: pm.Account) -> dict[str, Any]:
    return asdict(a)


def charge(c: pm.Charge, unit: Unit) -> dict[str, Any]:
    return {
        "txn_id": c.txn_id,
        "account": c.account,
        "unit": c.unit,
        "credits": unit.format(c.credits),
        "drawn": [{"lot_id": lot_id, "credits": unit.format(n)} for lot_id, n in c.drawn],
        "overage": unit.format(c.overage),
        "balance": unit.format(c.balance),
        "available": unit.format(c.available),
    }


def reservation(r: pm.Reservation, unit: Unit) -> dict[str, Any]:
    return {
        "id": r.id,
        "account": r.account,
        "unit": r.unit,
        "credits": unit.format(r.credits),
        "held": unit.format(r.held),
        "status": r.status,
        "deadline_at": r.deadline_at,
        "captured": None if r.captured is None else unit.format(r.captured),
        "available": unit.format(r.available),
    }


def grant(g: Grant, unit: Unit) -> dict[str, Any]:
    return {
        "txn_id": g.txn_id,
        "account": g.account,
        "unit": g.unit,
        "credits": unit.format(g.credits),
        "lot_id": g.lot_id,
        "balance": unit.format(g.balance),
        "available": unit.format(g.available),
    }


def purchase(p: pm.Purchase, unit: Unit) -> dict[str, Any]:
    return {**asdict(p), "credits": unit.format(p.credits), "price": _price(p)}


def plan(p: pm.Plan, unit: Unit) -> dict[str, Any]:
    return {**asdict(p), "credits": unit.format(p.credits), "price": _price(p)}


def package(p: pm.Package, unit: Unit) -> dict[str, Any]:
    return {**asdict(p), "credits": unit.format(p.credits), "price": _price(p)}


def _price(p: pm.Purchase | pm.Plan | pm.Package) -> str:
    """The price as typed in: a decimal in the currency (``price_minor`` keeps the cents)."""
    return format_credits(p.price_minor, exponent(p.currency))


def summary(s: Summary, unit: Unit) -> dict[str, Any]:
    f = unit.format
    return {
        "account": s.account,
        "unit": s.unit,
        "balance": f(s.balance),
        "reserved": f(s.reserved),
        "assigned": f(s.assigned),
        "available": f(s.available),
        "overage": f(s.overage),
        "lots": [
            {
                **asdict(lot),
                "amount": f(lot.amount),
                "remaining": f(lot.remaining),
                "held": f(lot.held),
            }
            for lot in s.lots
        ],
        "periods": [{**asdict(p), "credits": f(p.credits), "left": f(p.left)} for p in s.periods],
    }


def entry(e: EntryView, unit: Unit) -> dict[str, Any]:
    f = unit.format
    return {
        **asdict(e),
        "delta": f(e.delta),
        "held_delta": f(e.held_delta),
        "balance_after": f(e.balance_after),
    }


def key(k: KeyInfo) -> dict[str, Any]:
    return asdict(k)
