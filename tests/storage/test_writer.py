"""The one writer: group commit, a savepoint per unit, sequence numbers without gaps."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text

from mcos.domain.events import Event
from mcos.errors import Conflict, InvalidInput, ServiceUnavailable
from mcos.storage import tables
from mcos.storage.database import SERIAL_BATCH_LOCK, Database
from mcos.storage.writer import WriteContext, Writer
from tests.fixtures.database import reset_postgres


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def _event_unit(n: int) -> Callable[[WriteContext], dict[str, int]]:
    def unit(ctx: WriteContext) -> dict[str, int]:
        return ctx.seq_of(ctx.append("test.written", "system", None, {"n": n}).seq, {})

    return unit


def test_concurrent_writes_share_commits_and_get_gapless_seqs(db: Database) -> None:
    published: list[Event] = []
    lock = threading.Lock()

    def on_commit(events: list[Event]) -> None:
        with lock:
            published.extend(events)

    writer = Writer(db, on_commit)
    gate = threading.Event()

    def blocker(ctx: WriteContext) -> None:
        gate.wait(10)

    writer.start()
    first = writer.submit_nowait(blocker)
    # While the writer is stuck in the first batch, these pile up and go out in one commit.
    futures = [writer.submit_nowait(_event_unit(n)) for n in range(200)]
    gate.set()
    first.result(10)
    seqs = [f.result(10)["seq"] for f in futures]
    writer.stop()
    assert seqs == list(range(seqs[0], seqs[0] + 200))
    assert writer.batches < 10, f"{writer.batches} commits for 201 writes: not batched"
    assert [e.seq for e in published] == seqs
    with db.reading() as conn:
        assert conn.execute(select(func.count()).select_from(tables.events)).scalar() == 200


def test_a_failing_unit_leaves_no_trace_and_spares_the_others(db: Database) -> None:
    writer = Writer(db)
    gate = threading.Event()
    writer.start()
    hold = writer.submit_nowait(lambda ctx: gate.wait(10))

    def failing(ctx: WriteContext) -> None:
        ctx.append("test.doomed", "system", None, {})
        ctx.conn.execute(
            insert(tables.messages).values(
                ts=ctx.now, sender="system", scope="fleet", kind="chat", body="doomed"
            )
        )
        raise InvalidInput("refused on purpose", field="x")

    good_before = writer.submit_nowait(_event_unit(1))
    bad = writer.submit_nowait(failing)
    good_after = writer.submit_nowait(_event_unit(2))
    gate.set()
    hold.result(10)
    with pytest.raises(InvalidInput, match="refused on purpose"):
        bad.result(10)
    assert good_after.result(10)["seq"] == good_before.result(10)["seq"] + 1
    writer.stop()
    with db.reading() as conn:
        types = [r.type for r in conn.execute(select(tables.events.c.type))]
        bodies = conn.execute(select(func.count()).select_from(tables.messages)).scalar()
    assert types == ["test.written", "test.written"]
    assert bodies == 0


def test_stopped_writer_refuses_new_work_but_finishes_what_it_took(db: Database) -> None:
    writer = Writer(db)
    writer.start()
    pending = [writer.submit_nowait(_event_unit(n)) for n in range(50)]
    writer.stop()
    assert all(f.done() and f.exception() is None for f in pending)
    with pytest.raises(ServiceUnavailable):
        writer.submit_nowait(_event_unit(99))


def test_threads_writing_at_once_lose_nothing(db: Database) -> None:
    writer = Writer(db)
    writer.start()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        seqs = list(pool.map(lambda n: writer.run(_event_unit(n))["seq"], range(400)))
    writer.stop()
    assert sorted(seqs) == list(range(1, 401))


def test_bulk_jobs_run_together_and_a_bad_item_is_refused_alone(db: Database) -> None:
    calls: list[int] = []

    def bulk(ctx: WriteContext, items: list[object]) -> list[object]:
        calls.append(len(items))
        out = []
        for item in items:
            if item == "bad":
                raise InvalidInput("bad item", field="item")
            out.append(ctx.append("test.bulk", "system", None, {"item": item}).seq)
        return out

    writer = Writer(db)
    gate = threading.Event()
    writer.start()
    hold = writer.submit_nowait(lambda ctx: gate.wait(10))
    good = [writer.submit_bulk_nowait(bulk, f"item-{n}") for n in range(20)]
    together = writer.submit_bulk_nowait(bulk, "last")
    gate.set()
    hold.result(10)
    seqs = [f.result(10) for f in good] + [together.result(10)]
    assert calls == [21], "twenty-one like jobs in one batch should make one bulk call"
    assert seqs == list(range(seqs[0], seqs[0] + 21))

    calls.clear()
    gate2 = threading.Event()
    hold = writer.submit_nowait(lambda ctx: gate2.wait(10))
    mixed = [writer.submit_bulk_nowait(bulk, item) for item in ("a", "bad", "b")]
    gate2.set()
    hold.result(10)
    # The group may run first as a batch of its own (without a savepoint), then guarded.
    assert calls[-3:] == [1, 1, 1], "after a failed group, each item alone"
    assert calls[:-3] in ([3], [3, 3]), "the group first runs as one call"
    assert isinstance(mixed[0].result(10), int) and isinstance(mixed[2].result(10), int)
    with pytest.raises(InvalidInput, match="bad item"):
        mixed[1].result(10)
    writer.stop()
    with db.reading() as conn:
        items = [r.data["item"] for r in conn.execute(select(tables.events.c.data))]
    assert items == [f"item-{n}" for n in range(20)] + ["last", "a", "b"]


def test_a_batch_runs_without_savepoints_unless_a_unit_fails(db: Database) -> None:
    """Units that all succeed share the batch's transaction without a savepoint each (two
    round trips fewer per unit); once one raises, the batch is undone and runs again guarded,
    and the others' results are as if it had run guarded from the start."""
    savepoints: list[str] = []
    event.listen(db.write_engine, "savepoint", lambda conn, name: savepoints.append(name))
    published: list[Event] = []
    writer = Writer(db, published.extend)
    writer.start()

    def held(*submits: Callable[[], concurrent.futures.Future[Any]]) -> list[Any]:
        """Submitted while the writer is busy, so that they go out as one batch."""
        gate = threading.Event()
        hold = writer.submit_nowait(lambda ctx: gate.wait(10))
        futures = [submit() for submit in submits]
        gate.set()
        hold.result(10)
        return [f.exception(10) or f.result(10) for f in futures]

    def bulk(ctx: WriteContext, items: list[object]) -> list[int]:
        return [ctx.append("test.bulk", "system", None, {"item": i}).seq for i in items]

    def failing(ctx: WriteContext) -> None:
        ctx.append("test.doomed", "system", None, {})
        raise Conflict("refused on purpose", field="x")

    together = held(
        partial(writer.submit_nowait, _event_unit(1)),
        partial(writer.submit_bulk_nowait, bulk, "a"),
        partial(writer.submit_nowait, _event_unit(2)),
        partial(writer.submit_bulk_nowait, bulk, "b"),
    )
    first = together[0]["seq"]
    # The bulk group runs at the place of its first job, as the guarded way runs it.
    assert together == [{"seq": first}, first + 1, {"seq": first + 3}, first + 2]
    assert savepoints == [], "a batch whose units all succeed needs no savepoint"

    mixed = held(
        *(partial(writer.submit_nowait, u) for u in (_event_unit(3), failing, _event_unit(4)))
    )
    assert len(savepoints) >= 3, "after a failure the batch runs again, a savepoint a unit"
    assert isinstance(mixed[1], Conflict)
    assert mixed[2]["seq"] == mixed[0]["seq"] + 1 == first + 5
    writer.stop()
    assert [e.seq for e in published] == list(range(first, first + 6))
    assert "test.doomed" not in [e.type for e in published]


def _once(client_id: str) -> Callable[[WriteContext], int | None]:
    """A write that records ``client_id`` once and answers ``None`` when it is retried."""

    def unit(ctx: WriteContext) -> int | None:
        if ctx.recorded_client_ids([("agent:donna", client_id)]):
            return None
        return ctx.append("test.once", "agent:donna", None, {}, client_id=client_id).seq

    return unit


def test_a_retried_client_id_is_found_and_leaves_no_gap(db: Database) -> None:
    published: list[Event] = []
    writer = Writer(db, published.extend)
    writer.start()
    first = writer.run(_once("x"))
    gate = threading.Event()
    hold = writer.submit_nowait(lambda ctx: gate.wait(10))
    # One batch: on PostgreSQL the retried "x" is found by the insert itself, and its unit runs
    # again; the units around it keep consecutive seqs.
    batch = [writer.submit_nowait(_once(client_id)) for client_id in ("y", "x", "z", "y")]
    gate.set()
    hold.result(10)
    assert [f.result(10) for f in batch] == [first + 1, None, first + 2, None]
    assert writer.run(_once("z")) is None
    writer.stop()
    assert [e.seq for e in published] == [first, first + 1, first + 2]
    with db.reading() as conn:
        seqs = conn.execute(select(tables.events.c.seq).order_by(tables.events.c.seq)).scalars()
        assert list(seqs) == [first, first + 1, first + 2]


@pytest.fixture
def pg(postgres_database: str) -> Iterator[str]:
    reset_postgres(postgres_database)
    Database(postgres_database).migrate()
    return postgres_database


def test_replicas_write_at_once_and_number_their_events_at_the_commit(pg: str) -> None:
    """Two replicas' batches overlap: the one that began first but commits last has its events
    numbered after the other's, and what its units answered is corrected to match the log."""
    one, two = Database(pg), Database(pg)
    published: list[Event] = []
    first, second = Writer(one, published.extend), Writer(two)
    first.start()
    second.start()
    inside, release = threading.Event(), threading.Event()

    def slow(ctx: WriteContext, items: list[int]) -> list[dict[str, int]]:
        event = ctx.append("test.slow", "system", None, {})
        inside.set()
        release.wait(10)
        return [ctx.seq_of(event.seq, {"n": n}) for n in items]

    # A batch that takes no serial lock (as heartbeats), so the other replica's runs beside it.
    held = first.submit_bulk_nowait(slow, 1, parallel=True)
    assert inside.wait(10)
    # The first replica's batch holds no lock while its unit runs: the second commits.
    others = [second.submit_nowait(_event_unit(n)).result(10)["seq"] for n in range(3)]
    assert others == [1, 2, 3]
    release.set()
    assert held.result(10) == {"n": 1, "seq": 4}
    assert first.run(_event_unit(9))["seq"] == 5
    first.stop()
    second.stop()
    assert [(e.seq, e.type) for e in published] == [(4, "test.slow"), (5, "test.written")]
    with one.reading() as conn:
        rows = conn.execute(
            select(tables.events.c.seq, tables.events.c.type).order_by(tables.events.c.seq)
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "test.written"),
        (2, "test.written"),
        (3, "test.written"),
        (4, "test.slow"),
        (5, "test.written"),
    ]
    one.dispose()
    two.dispose()


def test_a_client_id_two_units_of_one_batch_append_waits_for_the_next(pg: str) -> None:
    """A unit that appends a client id an earlier unit of its batch appended (without asking
    the log first) runs in the next batch, once the first is committed, and is refused there
    as a duplicate; on PostgreSQL the batch's ids are checked only by its insert."""
    db = Database(pg)
    writer = Writer(db)
    writer.start()
    gate, inside = threading.Event(), threading.Event()
    hold = writer.submit_nowait(lambda ctx: (inside.set(), gate.wait(10)))
    assert inside.wait(10)

    def blind(ctx: WriteContext) -> int:
        return ctx.append("test.blind", "agent:donna", None, {}, client_id="x").seq

    futures = [
        writer.submit_nowait(blind),
        writer.submit_nowait(_once("y")),
        writer.submit_nowait(blind),
    ]
    gate.set()
    hold.result(10)
    assert futures[0].result(10) == 1
    assert futures[1].result(10) == 2
    with pytest.raises(Conflict, match="already recorded") as refused:
        futures[2].result(10)
    assert refused.value.code == "duplicate_id"
    # The hold, then "x" and "y" with the second "x" set aside, then that one alone.
    assert writer.batches == 3
    writer.stop()
    with db.reading() as conn:
        seqs = list(
            conn.execute(select(tables.events.c.seq).order_by(tables.events.c.seq)).scalars()
        )
    assert seqs == [1, 2]
    db.dispose()


def test_a_batch_opens_its_transaction_with_its_first_statement(pg: str) -> None:
    """On PostgreSQL ``BEGIN`` and the serial lock cost no round trip of their own: nothing is
    held while a unit has sent nothing, and both are in place before its first statement
    runs. A batch that only appends sends them with its commit."""
    db = Database(pg)
    writer = Writer(db)
    writer.start()
    writer.run(_event_unit(0))  # a connection's first batch reads max(seq) with its BEGIN

    def writer_backend() -> tuple[str, bool]:
        """The writer's session: its state, and whether it holds the serial batches' lock."""
        with db.reading() as conn:
            row = conn.execute(
                text(
                    "SELECT a.state, EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid "
                    "AND l.locktype = 'advisory' AND l.objid = :lock AND l.granted) AS held "
                    "FROM pg_stat_activity a WHERE a.datname = current_database() "
                    "AND a.pid <> pg_backend_pid() AND a.application_name = '' "
                    "AND a.backend_type = 'client backend' AND a.query NOT LIKE 'LISTEN%'"
                ),
                {"lock": SERIAL_BATCH_LOCK},
            ).one()
        return row.state, row.held

    seen: dict[str, tuple[str, bool]] = {}

    def unit(ctx: WriteContext) -> dict[str, int]:
        seen["before"] = writer_backend()
        ctx.conn.execute(select(func.count()).select_from(tables.agents))
        seen["after"] = writer_backend()
        return _event_unit(1)(ctx)

    assert writer.run(unit) == {"seq": 2}
    assert seen["before"] == ("idle", False), "nothing sent before the unit's first statement"
    assert seen["after"] == ("idle in transaction", True)
    assert writer.run(_event_unit(2)) == {"seq": 3}  # BEGIN, locks, insert, COMMIT at once
    assert writer_backend() == ("idle", False)
    writer.stop()
    db.dispose()
