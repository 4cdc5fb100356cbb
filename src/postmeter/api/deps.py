"""What route functions take: the context, the unit cache, the caller, the idempotency key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from postmeter.api.auth import Ctx, OperatorWriter, Writer, check_sees
from postmeter.api.idempotency import idempotency_key, replayable
from postmeter.api.units import UnitCache
from postmeter.service.context import Context
from postmeter.service.keys import Principal


async def units(request: Request) -> UnitCache:
    cache = request.app.state.units
    assert isinstance(cache, UnitCache)
    return cache


Units = Annotated[UnitCache, Depends(units)]
Key = Annotated[str, Depends(idempotency_key)]


@dataclass(frozen=True, slots=True)
class Change:
    """One request that changes the books: who, under which key, in which context."""

    ctx: Context
    who: Principal
    key: str
    units: UnitCache

    def run(
        self,
        request: dict[str, Any],
        work: Callable[[], tuple[int, Any]],
        redact: Callable[[Any], Any] | None = None,
    ) -> Response:
        return replayable(
            self.ctx, self.who, self.key, request, work, lambda u: self.units.get(u).scale, redact
        )

    def sees(self, ref: str) -> None:
        check_sees(self.ctx, self.who, ref)


async def change(ctx: Ctx, who: Writer, key: Key, cache: Units) -> Change:
    return Change(ctx, who, key, cache)


ChangeDep = Annotated[Change, Depends(change)]


async def operator_change(ctx: Ctx, who: OperatorWriter, key: Key, cache: Units) -> Change:
    return Change(ctx, who, key, cache)


OperatorChangeDep = Annotated[Change, Depends(operator_change)]
