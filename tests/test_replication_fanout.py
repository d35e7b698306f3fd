"""The fan-out of one replica: its own commits from memory, another replica's from the log."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from mcos.domain.events import Event
from mcos.replication import PostgresFanout
from mcos.storage.database import Database
from mcos.storage.writer import WriteContext, Writer
from mcos.stream import Broker
from tests.fixtures.database import reset_postgres


@pytest.fixture
def two_replicas(postgres_database: str) -> Iterator[tuple[Database, Database]]:
    reset_postgres(postgres_database)
    first, second = Database(postgres_database), Database(postgres_database)
    first.migrate()
    yield first, second
    first.dispose()
    second.dispose()


def _append(n: int) -> Callable[[WriteContext], int]:
    def unit(ctx: WriteContext) -> int:
        return ctx.append("test.replicated", "system", None, {"n": n}).seq

    return unit


@contextlib.contextmanager
def _fanout(db: Database) -> Iterator[tuple[PostgresFanout, list[Event], Callable[[], None]]]:
    """One replica's fan-out publishing to a broker on an event loop of its own thread: the
    fan-out, what it published, and a call that waits until the loop delivered what is queued."""
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    broker = Broker()
    broker.bind(loop)
    published: list[Event] = []
    broker.listeners.append(published.extend)
    # No polls (they would race the writer for its own events): notifications only.
    fanout = PostgresFanout(db, broker, poll_seconds=60)
    fanout.start(0)

    def drain() -> None:
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(5)

    try:
        yield fanout, published, drain
    finally:
        fanout.stop()
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        loop.close()


def test_a_replica_publishes_its_own_commits_and_the_others_in_order(
    two_replicas: tuple[Database, Database],
) -> None:
    ours, theirs = two_replicas
    with _fanout(ours) as (fanout, published, drain):
        writer, other = Writer(ours, fanout.publish_committed), Writer(theirs)
        writer.start()
        other.start()
        try:
            mine = [writer.run(_append(0))]
            _wait_for(fanout, mine[0])  # the listener's first read may have taken it from the log
            before = fanout.read_back
            mine += [writer.run(_append(n)) for n in range(1, 20)]
            assert fanout.read_back == before, "a replica alone reads none of its own events back"
            # Interleaved with another replica: its events reach this stream from the log.
            for n in range(20, 40):
                (writer if n % 2 else other).run(_append(n))
            _wait_for(fanout, writer.run(_append(40)))
            drain()
        finally:
            writer.stop()
            other.stop()
    assert mine == list(range(1, 21))
    assert [e.seq for e in published] == list(range(1, 42)), "every replica's events, in order"
    assert [e.data["n"] for e in published] == list(range(41))
    assert fanout.read_back - before <= 21, "only the other replica's events, and ours after them"
    assert fanout.read_back - before >= 10, "the other replica's events came from the log"


def _wait_for(fanout: PostgresFanout, seq: int) -> None:
    deadline = time.monotonic() + 10
    while fanout.published < seq and time.monotonic() < deadline:
        time.sleep(0.02)


def test_the_writer_hands_its_batch_over_while_the_listener_publishes(
    two_replicas: tuple[Database, Database],
) -> None:
    """While the listener holds the publishing lock (reading other replicas' events), the
    writer's commit does not wait for it: its batch is left to the listener, which publishes it
    once its read is done, in order."""
    ours, _ = two_replicas
    with _fanout(ours) as (fanout, published, drain):
        writer = Writer(ours, fanout.publish_committed)
        writer.start()
        try:
            _wait_for(fanout, writer.run(_append(0)))
            before = fanout.read_back  # the listener's first read may have taken it from the log
            with fanout._publishing:  # as the listener does while it reads the log
                # The writer commits and goes on: were it waiting for the lock, this times out.
                seqs = [writer.submit_nowait(_append(n)).result(5) for n in (1, 2)]
                assert fanout.published == 1, "nothing published while the listener holds it"
            _wait_for(fanout, seqs[-1])  # the batches' own NOTIFY woke the listener
            drain()
        finally:
            writer.stop()
    assert [e.data["n"] for e in published] == [0, 1, 2]
    assert fanout.read_back == before, "its own events from memory, none read back"
