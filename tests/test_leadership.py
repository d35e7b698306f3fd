"""One replica at a time runs the fleet's periodic work (sweeps, supervision, schedules): the one
holding the leader lock; when it stops or loses its connection, another takes over."""

from __future__ import annotations

import time
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
    """The backend holding this database's leader lock, if any."""
    with psycopg.connect(db.libpq_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LEADER_LOCK & 0xFFFFFFFF,),
        ).fetchone()
    return int(row[0]) if row else None


def _wait_until_free(db: Database) -> None:
    deadline = time.monotonic() + 10
    while _holder(db) is not None:
        assert time.monotonic() < deadline, "the closed session still holds the lock"
        time.sleep(0.02)


def test_one_replica_leads_until_it_stops(pg: Database) -> None:
    first, second = Leadership(pg), Leadership(pg)
    try:
        assert first.leads()
        assert not second.leads()
        assert first.leads(), "asking again keeps the lead"
        assert not second.leads()
        first.close()
        _wait_until_free(pg)  # the server ends the closed session a moment after the client
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
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (holder,))  # and wait
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
