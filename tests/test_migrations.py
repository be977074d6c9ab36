"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL:
a model changed without a migration fails here, not in production."""

from __future__ import annotations

from alembic import command

from facetrust.store.migrate import alembic_config, upgrade


def test_migrations_match_the_models(empty_database_url):
    upgrade(empty_database_url)  # from scratch: the other tests get a copy of a database migrated once
    command.check(alembic_config(empty_database_url))  # raises if autogenerate would emit any operation
