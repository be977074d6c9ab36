"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL:
a model changed without a migration fails here, not in production."""

from __future__ import annotations

from alembic import command

from facetrust.store.migrate import alembic_config, upgrade


def test_migrations_match_the_models(database_url):
    upgrade(database_url)
    command.check(alembic_config(database_url))  # raises if autogenerate would emit any operation
