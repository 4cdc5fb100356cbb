"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import postmeter as pm
from postmeter.store.migrate import include_object_for
from postmeter.store.tables import metadata


def test_migrated_schema_has_no_drift_from_the_tables(ctx: pm.Context) -> None:
    with ctx.store.engine.connect() as conn:
        dialect = ctx.store.engine.dialect.name
        options = {"include_object": include_object_for(dialect)}
        drift = compare_metadata(MigrationContext.configure(conn, opts=options), metadata)
    assert drift == []
