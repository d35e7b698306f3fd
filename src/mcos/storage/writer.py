"""The one writer: a thread that owns the write connection and commits work in batches.

Every write in the control plane is a *unit*: a function of a :class:`WriteContext` that reads,
checks, writes rows and appends events. Units submitted while a batch is being committed are
gathered into the next batch, so under load one commit carries hundreds of writes (group commit).
Each unit runs inside its own savepoint: a unit that raises leaves no trace and does not disturb
the others. Events get their sequence numbers here, are inserted in the same transaction as the
rows they describe, and are handed to ``on_commit`` only after the commit has succeeded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from mcos.domain.events import Event
from mcos.errors import Conflict, McosError, ServiceUnavailable
from mcos.storage.blobs import BlobStore
from mcos.storage.database import (
    Database,
    events_insert,
    insert_events,
    recorded_client_ids,
    skipped_events,
)
from mcos.storage.together import Answer, Statement, run_together

T = TypeVar("T")
log = logging.getLogger(__name__)

Unit = Callable[["WriteContext"], T]
BulkUnit = Callable[["WriteContext", list[Any]], list[Any]]
"""Does the work of many like jobs at once: one result per item, in order."""
BatchObserver = Callable[[int, float, list[Event]], None]
"""Told of each committed batch: its number of writes, the seconds it took, its events."""


ClientIdPair = tuple[str, str]
"""An idempotency key: (actor, client id), unique in the event log."""


class ClientIdsRecorded(Exception):
    """The insert found these (actor, client id) pairs already in the log: the writer runs
    the unit again, and ``WriteContext.recorded_client_ids`` names them this time."""

    def __init__(self, pairs: set[ClientIdPair]) -> None:
        super().__init__(f"{len(pairs)} client ids already recorded")
        self.pairs = frozenset(pairs)


class WriteContext:
    """What a unit sees: the connection, the batch's clock, and the event log to append to."""

    def __init__(
        self,
        conn: Connection,
        now: datetime,
        last_seq: int,
        blobs: BlobStore | None = None,
        recorded: frozenset[ClientIdPair] = frozenset(),
    ) -> None:
        self.conn = conn
        self.now = now
        self.seq = last_seq
        self.blobs = blobs
        """Where artifact content is stored (the database's store); written before its row."""
        self.events: list[Event] = []
        self._rows: list[dict[str, Any]] = []
        self._recorded = recorded
        self._optimistic = conn.dialect.name == "postgresql"

    def recorded_client_ids(self, pairs: list[ClientIdPair]) -> set[ClientIdPair]:
        """Which of ``pairs`` the event log already holds (a retried write's ids).

        On PostgreSQL this costs no query: the events go in with ``ON CONFLICT DO NOTHING``,
        and if that skipped a row the writer rolls the unit back and runs it again, this time
        answering with the pairs it found (``ClientIdsRecorded``). Retries are rare, so the
        common write checks its ids in the statement that inserts them. On SQLite, one query.
        """
        if not pairs:
            return set()
        if self._optimistic:
            return {pair for pair in pairs if pair in self._recorded}
        return recorded_client_ids(self.conn, pairs)

    def append(
        self,
        type: str,
        actor: str,
        subject: str | None,
        data: dict[str, Any],
        *,
        client_id: str | None = None,
        ts: datetime | None = None,
    ) -> Event:
        """Append an event; it is written with the unit and published after the commit."""
        self.seq += 1
        event = Event(self.seq, ts or self.now, type, actor, subject, data)
        self.events.append(event)
        self._rows.append(
            {
                "seq": event.seq,
                "ts": event.ts,
                "type": type,
                "actor": actor,
                "subject": subject,
                "data": data,
                "client_id": client_id,
            }
        )
        return event

    def flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            already = insert_events(self.conn, rows)
            if already:
                raise ClientIdsRecorded(already)

    def flush_with(self, statements: list[Statement]) -> list[Answer]:
        """Insert the events appended so far, then run ``statements`` (``run_together``): on
        PostgreSQL all in one round trip. Raises ``ClientIdsRecorded`` as ``flush`` does."""
        if not self._optimistic or not self._rows:
            self.flush()
            return run_together(self.conn, statements)
        rows, self._rows = self._rows, []
        inserted, *answers = run_together(self.conn, [events_insert(rows), *statements])
        already = skipped_events(self.conn, rows, inserted.rowcount)
        if already:
            raise ClientIdsRecorded(already)
        return answers

    def attempt(self, unit: Unit[T]) -> T:
        """Run ``unit`` in a savepoint of its own inside this one: if it raises, its rows and
        events are undone and the caller goes on (a bundle of reports, each answered alone)."""
        self.flush()
        savepoint = self.conn.begin_nested()
        seq, appended = self.seq, len(self.events)
        try:
            result = unit(self)
            self.flush()
        except BaseException:
            savepoint.rollback()
            self.seq, self._rows = seq, []
            del self.events[appended:]
            raise
        savepoint.commit()
        return result


class _Job(Generic[T]):
    """One submitted write, and its outcome once the batch has run."""

    __slots__ = ("bulk", "error", "future", "item", "loop", "outcome", "unit")

    def __init__(
        self,
        unit: Unit[T] | None,
        bulk: BulkUnit | None = None,
        item: Any = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.unit = unit
        self.bulk = bulk
        self.item = item
        self.loop = loop
        """Set for jobs awaited on an event loop: settled there, a whole batch per hop."""
        self.future: concurrent.futures.Future[T] | asyncio.Future[T] = (
            loop.create_future() if loop is not None else concurrent.futures.Future()
        )
        self.outcome: Any = None
        self.error: BaseException | None = None


_STOP = object()


def run_batch(db: Database, conn: Connection, jobs: list[_Job[Any]]) -> list[Event]:
    """Run ``jobs`` in one transaction, recording each one's outcome or error on it.

    Jobs submitted with the same bulk function (``Writer.submit_bulk``) run together, at the
    place of the first of them, in one call: a handful of statements for the whole group
    instead of a handful per job. If the group fails, each of its jobs is retried alone, so
    a bad item is refused on its own and its neighbours still succeed.

    A batch that is one piece (one job, or one group: heartbeats under load) first runs without
    a savepoint, two round trips fewer; if it raises, that transaction is rolled back and the
    batch runs again the guarded way.
    """
    bulks = {job.bulk for job in jobs}
    if len(jobs) == 1 or (len(bulks) == 1 and None not in bulks):
        events = _run_unguarded(db, conn, jobs)
        if events is not None:
            return events
    return _run_guarded(db, conn, jobs)


def _run_unguarded(db: Database, conn: Connection, jobs: list[_Job[Any]]) -> list[Event] | None:
    """The batch as one unit without a savepoint; ``None`` (nothing written) if it raised."""
    bulk, unit = jobs[0].bulk, jobs[0].unit
    with conn.begin() as transaction:
        ctx = WriteContext(conn, datetime.now(UTC), db.begin_batch(conn), db.blobs)
        try:
            if bulk is not None:
                results = bulk(ctx, [job.item for job in jobs])
            else:
                assert unit is not None
                results = [unit(ctx)]
            ctx.flush()
        except BaseException:
            transaction.rollback()
            return None
        db.commit_batch(conn, ctx.events[-1].seq if ctx.events else None)
    for job, result in zip(jobs, results, strict=True):
        job.outcome = result
    return ctx.events


def _run_guarded(db: Database, conn: Connection, jobs: list[_Job[Any]]) -> list[Event]:
    events: list[Event] = []
    now = datetime.now(UTC)
    groups: dict[BulkUnit, list[_Job[Any]]] = {}
    for job in jobs:
        if job.bulk is not None:
            groups.setdefault(job.bulk, []).append(job)
    with conn.begin():
        seq = db.begin_batch(conn)
        for job in jobs:
            if job.bulk is None:
                seq = _run_one(conn, now, seq, job, job.unit, events, db.blobs)
                continue
            group = groups.pop(job.bulk, None)
            if group is None:
                continue  # already run with the first job of its group
            seq = _run_group(conn, now, seq, job.bulk, group, events, db.blobs)
        db.commit_batch(conn, events[-1].seq if events else None)
    return events


def _attempt(
    conn: Connection, now: datetime, seq: int, blobs: BlobStore, work: Unit[T]
) -> tuple[WriteContext, T]:
    """Run ``work`` in a savepoint; again, told the ids found, if its insert met recorded ones.

    Any other exception rolls the savepoint back and propagates.
    """
    recorded: frozenset[ClientIdPair] = frozenset()
    while True:
        savepoint = conn.begin_nested()
        ctx = WriteContext(conn, now, seq, blobs, recorded)
        try:
            result = work(ctx)
            ctx.flush()
        except ClientIdsRecorded as found:
            savepoint.rollback()
            if found.pairs <= recorded:  # appended an id it was told is recorded
                actor, client_id = min(found.pairs)
                raise Conflict(
                    f"id {client_id!r} was already recorded for {actor}",
                    field="id",
                    code="duplicate_id",
                ) from None
            recorded |= found.pairs
            continue
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        return ctx, result


def _run_group(
    conn: Connection,
    now: datetime,
    seq: int,
    bulk: BulkUnit,
    group: list[_Job[Any]],
    events: list[Event],
    blobs: BlobStore,
) -> int:
    if len(group) > 1:
        items = [job.item for job in group]
        try:
            ctx, results = _attempt(conn, now, seq, blobs, lambda ctx: bulk(ctx, items))
        except BaseException:
            pass  # each is retried alone below
        else:
            events.extend(ctx.events)
            for job, result in zip(group, results, strict=True):
                job.outcome = result
            return ctx.seq
    for job in group:
        seq = _run_one(conn, now, seq, job, partial(_alone, bulk, job.item), events, blobs)
    return seq


def _alone(bulk: BulkUnit, item: Any, ctx: WriteContext) -> Any:
    return bulk(ctx, [item])[0]


def _run_one(
    conn: Connection,
    now: datetime,
    seq: int,
    job: _Job[Any],
    unit: Unit[Any] | None,
    events: list[Event],
    blobs: BlobStore,
) -> int:
    assert unit is not None
    try:
        ctx, result = _attempt(conn, now, seq, blobs, unit)
    except BaseException as exc:
        if not isinstance(exc, McosError):
            log.exception("write failed")
        job.error = exc
        return seq
    events.extend(ctx.events)
    job.outcome = result
    return ctx.seq


class Writer:
    """Owns the write connection; ``submit`` a unit and await its result after commit."""

    def __init__(
        self,
        db: Database,
        on_commit: Callable[[list[Event]], None] = lambda events: None,
        *,
        max_batch: int = 512,
        observe: BatchObserver | None = None,
    ) -> None:
        self.db = db
        self.on_commit = on_commit
        self.max_batch = max_batch
        self.observe = observe
        """Called on the writer's thread after each commit (the metrics); must be quick."""
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        self.units = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mcos-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Commit what was submitted, then stop; later submissions are refused."""
        self._closed = True
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join()

    async def submit(self, unit: Unit[T]) -> T:
        """Run ``unit`` in the next batch; returns its result once that batch has committed."""
        return await self._put_async(_Job(unit, loop=asyncio.get_running_loop()))

    async def submit_bulk(self, bulk: BulkUnit, item: Any) -> Any:
        """Run ``item`` through ``bulk`` together with the other items of its batch."""
        return await self._put_async(_Job(None, bulk, item, loop=asyncio.get_running_loop()))

    def submit_nowait(self, unit: Unit[T]) -> concurrent.futures.Future[T]:
        """From a plain thread: a future to wait on (CLI commands, tests)."""
        return self._put_threaded(_Job(unit))

    def submit_bulk_nowait(self, bulk: BulkUnit, item: Any) -> concurrent.futures.Future[Any]:
        return self._put_threaded(_Job(None, bulk, item))

    def run(self, unit: Unit[T]) -> T:
        """Submit from a plain thread and wait."""
        return self.submit_nowait(unit).result()

    def _put_async(self, job: _Job[T]) -> asyncio.Future[T]:
        self._put(job)
        assert isinstance(job.future, asyncio.Future)
        return job.future

    def _put_threaded(self, job: _Job[T]) -> concurrent.futures.Future[T]:
        self._put(job)
        assert isinstance(job.future, concurrent.futures.Future)
        return job.future

    def _put(self, job: _Job[Any]) -> None:
        if self._closed:
            raise ServiceUnavailable("the control plane is shutting down; retry shortly")
        self._queue.put(job)

    def _loop(self) -> None:
        with self.db.batch_connection() as conn:
            stopping = False
            while not stopping:
                first = self._queue.get()
                jobs: list[_Job[Any]] = []
                if first is _STOP:
                    stopping = True
                else:
                    jobs.append(first)
                while len(jobs) < self.max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stopping = True
                        continue
                    jobs.append(item)
                if jobs:
                    self._commit(conn, jobs)

    def _commit(self, conn: Connection, jobs: list[_Job[Any]]) -> None:
        started = time.perf_counter()
        try:
            events = run_batch(self.db, conn, jobs)
        except Exception as exc:
            log.exception("commit failed; %d writes refused", len(jobs))
            refused = ServiceUnavailable(f"the database refused the write ({type(exc).__name__})")
            for job in jobs:
                if job.error is None:
                    job.error = refused
            events = []
        else:
            self.batches += 1
            self.units += len(jobs)
            if self.observe is not None:
                try:
                    self.observe(len(jobs), time.perf_counter() - started, events)
                except Exception:
                    log.exception("observing a batch failed")
        _settle(jobs)
        if events:
            try:
                self.on_commit(events)
            except Exception:
                log.exception("publishing %d committed events failed", len(events))


def _settle(jobs: list[_Job[Any]]) -> None:
    """Hand each job its outcome: thread futures at once, loop futures one hop per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Job[Any]]] = {}
    for job in jobs:
        if job.loop is None:
            _resolve(job)
        else:
            by_loop.setdefault(job.loop, []).append(job)
    for loop, group in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve_all, group)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass


def _resolve_all(jobs: list[_Job[Any]]) -> None:
    for job in jobs:
        _resolve(job)


def _resolve(job: _Job[Any]) -> None:
    if job.future.done():  # an awaiting request that was cancelled (its client went away)
        return
    if job.error is not None:
        job.future.set_exception(job.error)
    else:
        job.future.set_result(job.outcome)


def write_once(db: Database, unit: Unit[T]) -> T:
    """Run one unit in its own transaction without a writer thread (before ``serve`` starts)."""
    job = _Job(unit)
    with db.batch_connection() as conn:
        run_batch(db, conn, [job])
    if job.error is not None:
        raise job.error
    result: T = job.outcome
    return result
