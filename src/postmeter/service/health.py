"""Whether the books can be reached."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from postmeter.service.context import Context


def database_answers(ctx: Context) -> bool:
    try:
        with ctx.store.read() as tx:
            tx.conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
