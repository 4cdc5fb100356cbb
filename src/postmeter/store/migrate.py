"""Schema migrations (alembic), the same scripts for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is there already."""
    if is_current(engine):
        return
    command.upgrade(alembic_config(engine), revision)


def is_current(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def include_object_for(dialect: str) -> Callable[..., bool]:
    """alembic's ``include_object`` hook: an index or constraint declared for another database
    only (``ddl_if(dialect=...)`` in tables.py) is neither expected nor compared on this one."""

    def include(item: Any, _name: Any, _type: Any, reflected: bool, compare_to: Any) -> bool:
        declared = compare_to if reflected else item
        condition = getattr(declared, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect)

    return include
