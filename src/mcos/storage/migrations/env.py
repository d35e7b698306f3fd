"""Alembic environment: runs on the connection (or else the engine) handed over in
``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from mcos.storage.tables import metadata


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    with context.config.attributes["engine"].connect() as connection:
        run(connection)
