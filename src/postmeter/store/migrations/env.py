"""alembic environment: the engine comes from postmeter's own configuration, never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Engine

from postmeter.store.tables import metadata

engine = context.config.attributes.get("engine")
assert isinstance(engine, Engine), "run migrations through postmeter.store.migrate"

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
