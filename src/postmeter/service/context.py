"""What every use case runs with: the store, the clock, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from postmeter.domain.clock import Clock
from postmeter.store.uow import Store


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change. ``scope`` is where idempotency keys are unique (an operator, a tree)."""

    name: str
    scope: str = "operator"


OPERATOR = Actor("operator")


@dataclass(frozen=True, slots=True)
class Context:
    store: Store
    clock: Clock
