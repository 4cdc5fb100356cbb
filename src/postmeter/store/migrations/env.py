"""alembic environment: the engine comes from postmeter's own configuration, never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Engine

from postmeter.store.migrate import include_object_for
from postmeter.store.tables import metadata

engine = context.config.attributes.get("engine")
assert isinstance(engine, Engine), "run migrations through postmeter.store.migrate"
sqlite = engine.dialect.name == "sqlite"

with engine.connect() as connection:
    driver = connection.connection.driver_connection
    if sqlite:
        # SQLite alters a table by copying it, then dropping the old one, which other tables'
        # foreign keys refer to: its own procedure for that turns foreign keys off, outside any
        # transaction, and checks them all before the commit.
        driver.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=sqlite,
                compare_type=True,
                include_object=include_object_for(engine.dialect.name),
            )
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            driver.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
