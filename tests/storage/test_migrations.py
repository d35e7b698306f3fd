"""The Alembic migrations build exactly the schema the code describes, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from mcos.storage.database import Database
from mcos.storage.migrations import alembic_config
from mcos.storage.tables import metadata


def test_migrations_match_tables(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    with db.write_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        tables = set(inspect(conn).get_table_names())
    db.dispose()
    assert diff == [], f"tables.py and the migrations disagree: {diff}"
    assert {"agents", "events", "tasks", "messages", "tokens"} <= tables


def test_migrate_twice_is_a_no_op(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    db.migrate()
    with db.write_engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    head = ScriptDirectory.from_config(alembic_config(db.write_engine)).get_current_head()
    db.dispose()
    assert version == head
