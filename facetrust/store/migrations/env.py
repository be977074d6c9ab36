"""Alembic environment: the URL is handed in by facetrust.store.migrate."""

from __future__ import annotations

from alembic import context

from facetrust.store.db import Base, import_models, make_engine

import_models()
config = context.config
url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
