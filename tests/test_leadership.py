"""One replica at a time runs the fleet's periodic work (sweeps, supervision, schedules): the one
holding the leader lock; when it stops or loses its connection, another takes over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from mcos.replication import LEADER_LOCK, Leadership
from mcos.storage.database import Database
from tests.fixtures.database import reset_postgres


@pytest.fixture
def pg(postgres_database: str) -> Iterator[Database]:
    reset_postgres(postgres_database)
    db = Database(postgres_database)
    yield db
    db.dispose()


def _holder(db: Database) -> int | None:
    """The backend holding the leader lock, if any."""
    with psycopg.connect(db.libpq_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted",
            (LEADER_LOCK & 0xFFFFFFFF,),
        ).fetchone()
    return int(row[0]) if row else None


def test_one_replica_leads_until_it_stops(pg: Database) -> None:
    first, second = Leadership(pg), Leadership(pg)
    try:
        assert first.leads()
        assert not second.leads()
        assert first.leads(), "asking again keeps the lead"
        assert not second.leads()
        first.close()
        assert second.leads(), "the lead is free once the leader stops"
        assert not first.leads()
    finally:
        first.close()
        second.close()


def test_a_leader_that_lost_its_connection_gives_the_lead_up(pg: Database) -> None:
    first, second = Leadership(pg), Leadership(pg)
    try:
        assert first.leads()
        holder = _holder(pg)
        assert holder is not None
        with psycopg.connect(pg.libpq_url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (holder,))
        assert not first.leads(), "its connection is gone: it no longer leads"
        assert second.leads()
        assert _holder(pg) not in (None, holder)
    finally:
        first.close()
        second.close()


def test_on_sqlite_the_one_server_leads(tmp_path: Path) -> None:
    db = Database(f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}")
    assert Leadership(db).leads()
    db.dispose()
