"""Replicas writing at once on PostgreSQL: heartbeats, usage reports and posted events run beside
other replicas' batches (``Writer.submit_bulk(parallel=True)``); everything else takes the serial
lock; and what runs beside each other is written so that neither undoes the other.

Two writers on two ``Database`` objects are two replicas here, as ``mcos serve`` makes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from mcos.contract.requests import HeartbeatIn
from mcos.domain import events as ev
from mcos.fleet.schema import Fleet
from mcos.services import agents as agent_service
from mcos.services.agents import sweep_liveness, sync_fleet
from mcos.services.heartbeats import HeartbeatItem, record_heartbeats
from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.writer import WriteContext, Writer, write_once
from tests.fixtures.database import reset_postgres


@pytest.fixture
def replicas(postgres_database: str, fleet: Fleet) -> Iterator[tuple[Writer, Writer]]:
    reset_postgres(postgres_database)
    one, two = Database(postgres_database), Database(postgres_database)
    one.migrate()
    write_once(one, lambda ctx: sync_fleet(ctx, fleet))
    writers = Writer(one), Writer(two)
    for writer in writers:
        writer.start()
    yield writers
    for writer in writers:
        writer.stop()
    one.dispose()
    two.dispose()


def _heartbeats(fleet: Fleet) -> Any:
    def bulk(ctx: WriteContext, items: list[HeartbeatItem]) -> list[Any]:
        return record_heartbeats(ctx, fleet, items)

    return bulk


def _beat(agent: str) -> HeartbeatItem:
    return HeartbeatItem(agent, HeartbeatIn(status="working"), f"agent:{agent}")


def test_heartbeats_commit_while_another_replica_runs_a_serial_batch(
    replicas: tuple[Writer, Writer], fleet: Fleet
) -> None:
    one, two = replicas
    agent = fleet.agents[0].name
    inside, release = threading.Event(), threading.Event()
    # The serial lock goes out with a batch's first statement.
    held = one.submit_nowait(
        lambda ctx: (ctx.conn.execute(select(1)), inside.set(), release.wait(10))
    )
    assert inside.wait(10)
    # The first replica holds the serial lock; the heartbeat does not wait for it.
    answer = two.submit_bulk_nowait(_heartbeats(fleet), _beat(agent), parallel=True).result(10)
    assert answer["agent"] == agent
    # A serial write of the second replica does wait: its first statement runs only once the
    # first commits.
    started = threading.Event()
    serial = two.submit_nowait(lambda ctx: (ctx.conn.execute(select(1)), started.set()))
    assert not started.wait(0.5)
    release.set()
    held.result(10)
    serial.result(10)
    assert started.is_set()


def test_a_liveness_sweep_does_not_undo_a_heartbeat_committed_beside_it(
    replicas: tuple[Writer, Writer], fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep of one replica reads an agent as silent for an hour; before it writes, another
    replica records the agent's heartbeat. The sweep leaves the agent as the heartbeat left it
    and says nothing of it."""
    one, two = replicas
    agent = fleet.agents[0].name
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    one.run(
        lambda ctx: ctx.conn.execute(
            update(tables.agents)
            .where(tables.agents.c.name == agent)
            .values(last_heartbeat_at=long_ago, reported_status="working", liveness="working")
        )
    )
    decided, release = threading.Event(), threading.Event()
    derive = agent_service.current_liveness

    def slow_liveness(fleet: Fleet, name: str, *args: Any, **kwargs: Any) -> Any:
        found = derive(fleet, name, *args, **kwargs)
        if name == agent:
            decided.set()
            release.wait(10)
        return found

    monkeypatch.setattr(agent_service, "current_liveness", slow_liveness)
    swept = one.submit_nowait(lambda ctx: sweep_liveness(ctx, fleet))
    assert decided.wait(10)
    two.submit_bulk_nowait(_heartbeats(fleet), _beat(agent), parallel=True).result(10)
    release.set()
    swept.result(10)
    with one.db.reading() as conn:
        row = conn.execute(select(tables.agents).where(tables.agents.c.name == agent)).one()
        changes = conn.execute(
            select(tables.events.c.data).where(
                tables.events.c.type == ev.AGENT_LIVENESS_CHANGED,
                tables.events.c.subject == f"agent:{agent}",
            )
        ).all()
    assert row.liveness == "working"
    assert row.last_heartbeat_at > long_ago
    assert [c.data["reason"] for c in changes] == [], (
        "neither the sweep nor the heartbeat changed it"
    )
