"""The Alembic migrations build exactly the schema the code describes, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select

from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.migrations import alembic_config, upgrade
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


def test_existing_operator_tokens_become_owners(database_url: str) -> None:
    """Before 0012 every operator had every power: each live operator token's person becomes an
    owner, so nobody loses a power by upgrading; a revoked token's person does not come back."""
    db = Database(database_url)
    upgrade(db.write_engine, "0011")
    now = datetime.now(UTC)
    with db.write_engine.begin() as conn:
        for i, (label, revoked) in enumerate(
            (("operator", None), ("alice", None), ("alice", None), ("gone", now))
        ):
            conn.execute(
                insert(tables.tokens).values(
                    token_hash=f"{i:064d}",
                    prefix="mcos_o_x",
                    kind="operator",
                    label=label,
                    created_at=now,
                    revoked_at=revoked,
                )
            )
    db.migrate()
    with db.write_engine.connect() as conn:
        people = conn.execute(
            select(tables.operators.c.name, tables.operators.c.role).order_by("name")
        ).all()
    db.dispose()
    assert [tuple(p) for p in people] == [("alice", "owner"), ("operator", "owner")]
