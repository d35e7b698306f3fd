"""Alembic migrations, run from code: ``mcos serve``, ``mcos init`` and ``mcos db upgrade``
upgrade to head.

Several replicas may start at once on one database, so an upgrade runs under a lock held for
its whole length: on PostgreSQL a session advisory lock (``MIGRATION_LOCK``), on SQLite an
exclusive ``flock`` on a lock file beside the database. Whoever gets the lock second finds the
schema already at head and does nothing.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

HERE = Path(__file__).parent
MIGRATION_LOCK = 0x6D636F6D
"""The PostgreSQL advisory lock key held while a schema upgrade runs (any fixed constant)."""


def alembic_config(engine: Engine, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(HERE)).get_current_head()
    assert head is not None, "the migrations have one head"
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory(str(HERE)).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The schema's revision, or ``None`` for a database never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@dataclass(frozen=True)
class Upgrade:
    """What one ``upgrade`` call did: the revision it found and the one it left."""

    before: str | None
    after: str


def upgrade(engine: Engine, revision: str = "head") -> Upgrade:
    """Bring the schema to ``revision`` under the migration lock; a no-op at that revision."""
    with _migration_lock(engine) as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        conn.commit()
        command.upgrade(alembic_config(engine, conn), revision)
        after = MigrationContext.configure(conn).get_current_revision()
        conn.commit()
    assert after is not None, "an upgrade leaves a revision"
    return Upgrade(before, after)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection holding the migration lock until the block ends."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()  # a session lock: it outlives this transaction
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with engine.connect() as conn:
            yield conn
        return
    # A file of its own, never deleted (deleting a lock file races with its next user), and not
    # the database file: closing any descriptor of that would drop SQLite's own locks.
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    with lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
