"""Units as the API needs them: looked up once per process (a unit's scale never changes)."""

from __future__ import annotations

from threading import Lock

from postmeter.domain.units import Unit
from postmeter.service.context import Context
from postmeter.service.units import get_unit


class UnitCache:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._units: dict[str, Unit] = {}
        self._lock = Lock()

    def get(self, code: str) -> Unit:
        unit = self._units.get(code)
        if unit is None:
            unit = get_unit(self._ctx, code)  # NotFound for an unknown unit
            with self._lock:
                self._units[code] = unit
        return unit

    def forget(self, code: str) -> None:
        """After a policy change (the scale itself never changes)."""
        with self._lock:
            self._units.pop(code, None)
