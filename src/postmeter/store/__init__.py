"""Persistence: the tables, the engine and its durable settings, the unit of work, migrations."""
