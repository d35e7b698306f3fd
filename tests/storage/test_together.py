"""Several reads in one round trip (``storage.together``): the same rows on both back ends, and
on PostgreSQL a statement that fails in the pipeline fails its unit and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import select

from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.together import PipelineSelect, run_together
from mcos.storage.writer import WriteContext, write_once

A = tables.agents
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
BY_NAME = PipelineSelect.build(
    lambda among: (
        select(A.c.name, A.c.channels, A.c.created_at)
        .where(among(A.c.name, "names"))
        .order_by(A.c.name)
    )
)
BY_ROLE = PipelineSelect.build(
    lambda _among: select(A.c.name).where(A.c.role == "security").order_by(A.c.name)
)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()

    def agents(ctx: WriteContext) -> None:
        for name, role in (("ada", "security"), ("bo", "ops"), ("cy", "security")):
            ctx.conn.execute(
                A.insert().values(
                    name=name,
                    display_name=name,
                    role=role,
                    machine="m1",
                    provider="openai",
                    model="gpt-4o-mini",
                    credential_env="KEY",
                    capabilities=["read"],
                    channels=[f"{role}-room"],
                    supervisor="",
                    context_window=200_000,
                    flush_line=150_000,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )

    write_once(database, agents)
    yield database
    database.dispose()


def test_reads_run_together_answer_each_in_order(db: Database) -> None:
    named, security = write_once(
        db,
        lambda ctx: run_together(
            ctx.conn, [(BY_NAME, {"names": ["cy", "ada", "nobody"]}), (BY_ROLE, {})]
        ),
    )
    assert [(r.name, r.channels, r.created_at) for r in named.rows] == [
        ("ada", ["security-room"], NOW),
        ("cy", ["security-room"], NOW),
    ]
    assert all(r.created_at.utcoffset() is not None for r in named.rows), "aware, in UTC"
    assert [r._asdict() for r in security.rows] == [{"name": "ada"}, {"name": "cy"}]


def test_a_failing_statement_fails_its_unit_and_the_next_write_goes_through(
    database_url: str, db: Database
) -> None:
    if not database_url.startswith("postgresql"):
        with pytest.raises(TypeError, match="PostgreSQL only"):
            write_once(db, lambda ctx: run_together(ctx.conn, [("SELECT 1", [])]))
        return

    def rename_then_fail(ctx: WriteContext) -> None:
        run_together(
            ctx.conn,
            [("UPDATE agents SET display_name = 'changed'", []), ("SELECT 1 / 0", [])],
        )

    with pytest.raises(psycopg.errors.DivisionByZero):
        write_once(db, rename_then_fail)
    [named] = write_once(db, lambda ctx: run_together(ctx.conn, [(BY_NAME, {"names": ["bo"]})]))
    assert [r.name for r in named.rows] == ["bo"], "the writer's connection still works"
    with db.reading() as conn:
        names = set(conn.execute(select(A.c.display_name)).scalars())
    assert names == {"ada", "bo", "cy"}, "the update before the failure was rolled back"
