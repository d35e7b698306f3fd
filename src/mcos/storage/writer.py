"""The one writer: a thread that owns the write connection and commits work in batches.

Every write in the control plane is a *unit*: a function of a :class:`WriteContext` that reads,
checks, writes rows and appends events. Units submitted while a batch is being committed are
gathered into the next batch, so under load one commit carries hundreds of writes (group commit).
A unit that raises leaves no trace and does not disturb the others: the batch runs first without
savepoints and, if a unit raised, again with each unit inside its own savepoint. Events get their
sequence numbers here (on PostgreSQL at the commit, see ``Database.commit_batch``), are inserted
in the same transaction as the rows they describe, and are handed to ``on_commit`` only after
the commit has succeeded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Set
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

import psycopg
from sqlalchemy import Connection, bindparam, func, select

from mcos.domain.events import Event
from mcos.errors import Conflict, McosError, ServiceUnavailable
from mcos.storage import tables
from mcos.storage.blobs import BlobStore
from mcos.storage.database import ClientIdsRecorded, Database, recorded_client_ids
from mcos.storage.together import Answer, Statement, run_together

T = TypeVar("T")
log = logging.getLogger(__name__)

Unit = Callable[["WriteContext"], T]
BulkUnit = Callable[["WriteContext", list[Any]], list[Any]]
"""Does the work of many like jobs at once: one result per item, in order."""
BatchObserver = Callable[[int, float, list[Event]], None]
"""Told of each committed batch: its number of writes, the seconds it took, its events."""


# Built once: every report with a client id asks it (usage, comments, moves).
_SEEN = select(tables.events.c.seq).where(
    tables.events.c.actor == bindparam("actor"), tables.events.c.client_id == bindparam("id")
)

ClientIdPair = tuple[str, str]
"""An idempotency key: (actor, client id), unique in the event log."""


class _Defer(Exception):
    """A unit appended a client id that an earlier unit of its batch appended too: it runs
    again in the next batch, once that one is in the log, and is answered as a retry."""


class WriteContext:
    """What a unit sees: the connection, the batch's clock, and the event log to append to.

    On SQLite the events a unit appends are numbered for good and inserted when it ends (or at
    :meth:`flush`, which a savepoint does first). On PostgreSQL they are numbered
    provisionally, kept, and inserted by the batch's commit, which numbers them for good
    (``Database.commit_batch``): a result that names an event's seq must get it through
    :meth:`seq_of`, which the writer corrects then.
    """

    def __init__(
        self,
        conn: Connection,
        now: datetime,
        last_seq: int,
        blobs: BlobStore | None = None,
        recorded: frozenset[ClientIdPair] = frozenset(),
        pending: Set[ClientIdPair] = frozenset(),
    ) -> None:
        self.conn = conn
        self.now = now
        self.seq = last_seq
        """The last seq appended (provisional on PostgreSQL until the commit)."""
        self.blobs = blobs
        """Where artifact content is stored (the database's store); written before its row."""
        self.events: list[Event] = []
        self.rows: list[dict[str, Any]] = []
        """The appended events' rows not yet inserted (on PostgreSQL, all of them)."""
        self.seq_fields: list[tuple[dict[str, Any], str]] = []
        """Where results name a seq (:meth:`seq_of`), to correct once the commit numbers it."""
        self._recorded = recorded
        self._pending = pending
        """The pairs earlier units of the batch appended (read, never changed, here)."""
        self.late = conn.dialect.name == "postgresql"
        """Events numbered and inserted at the commit (PostgreSQL)."""

    def recorded_client_ids(self, pairs: list[ClientIdPair]) -> set[ClientIdPair]:
        """Which of ``pairs`` the event log already holds (a retried write's ids), this batch's
        own appends included.

        On PostgreSQL this costs no query: the batch's insert at the commit checks its ids;
        if the log held one, the batch is rolled back and runs again, this time answering
        with the pairs it found. Retries are rare, so the common write checks its ids in the
        statement that inserts them. On SQLite, one query.
        """
        if not pairs:
            return set()
        known = self._unlogged()
        found = {pair for pair in pairs if any(pair in some for some in known)}
        if self.late:
            return found
        rest = [pair for pair in pairs if pair not in found]
        return found | recorded_client_ids(self.conn, rest) if rest else found

    def is_recorded(self, actor: str, client_id: str | None) -> bool:
        """Whether ``actor`` already used ``client_id``: one query, and this batch's appends."""
        if client_id is None:
            return False
        if any((actor, client_id) in some for some in self._unlogged()):
            return True
        return self.conn.execute(_SEEN, {"actor": actor, "id": client_id}).first() is not None

    def _unlogged(self) -> tuple[Set[ClientIdPair], ...]:
        """The pairs this batch holds that the log cannot show yet: the appends not inserted
        (on SQLite those of this unit since its last flush, a bundle's earlier reports; on
        PostgreSQL all of them) and, on PostgreSQL, those earlier units appended or the commit
        found recorded."""
        own = {(r["actor"], r["client_id"]) for r in self.rows}
        return (own, self._recorded, self._pending) if self.late else (own,)

    def log_end(self) -> int:
        """The log's last seq as this unit can read it: on SQLite, with the batch's own appends;
        on PostgreSQL the last committed (the batch's own are numbered after it)."""
        if not self.late:
            return self.seq
        value = self.conn.execute(select(func.max(tables.events.c.seq))).scalar()
        return int(value or 0)

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
        self.rows.append(
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

    def seq_of(self, seq: int, into: dict[str, Any], key: str = "seq") -> dict[str, Any]:
        """Put ``seq``, an event's number as this unit knows it, in ``into[key]`` and answer
        ``into``; on PostgreSQL the writer corrects it once the commit has numbered the event.
        Register each dictionary once."""
        into[key] = seq
        if self.late:
            self.seq_fields.append((into, key))
        return into

    def flush(self) -> None:
        """Insert the events appended so far (SQLite; on PostgreSQL the commit does)."""
        if self.rows and not self.late:
            rows, self.rows = self.rows, []
            self.conn.execute(tables.events.insert(), rows)

    def flush_with(self, statements: list[Statement]) -> list[Answer]:
        """Insert the events appended so far, then run ``statements`` (``run_together``): on
        PostgreSQL in one round trip."""
        self.flush()
        return run_together(self.conn, statements)

    def attempt(self, unit: Unit[T]) -> T:
        """Run ``unit`` in a savepoint of its own inside this one: if it raises, its rows and
        events are undone and the caller goes on (a bundle of reports, each answered alone)."""
        self.flush()
        savepoint = self.conn.begin_nested()
        seq, appended = self.seq, len(self.events)
        rows, fields = len(self.rows), len(self.seq_fields)
        try:
            result = unit(self)
            self.flush()
        except BaseException:
            savepoint.rollback()
            self.seq = seq
            del self.events[appended:], self.rows[rows:], self.seq_fields[fields:]
            raise
        savepoint.commit()
        return result


class _Job(Generic[T]):
    """One submitted write, and its outcome once the batch has run."""

    __slots__ = (
        "bulk",
        "deferrals",
        "deferred",
        "error",
        "future",
        "item",
        "loop",
        "outcome",
        "parallel",
        "unit",
    )

    def __init__(
        self,
        unit: Unit[T] | None,
        bulk: BulkUnit | None = None,
        item: Any = None,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        parallel: bool = False,
    ) -> None:
        self.unit = unit
        self.bulk = bulk
        self.item = item
        self.loop = loop
        self.parallel = parallel
        """Safe beside other replicas' batches (``Writer.submit_bulk``): needs no serial lock."""
        self.deferrals = 0
        """Set for jobs awaited on an event loop: settled there, a whole batch per hop."""
        self.future: concurrent.futures.Future[T] | asyncio.Future[T] = (
            loop.create_future() if loop is not None else concurrent.futures.Future()
        )
        self.outcome: Any = None
        self.error: BaseException | None = None
        self.deferred = False
        """Not run in this batch (``_Defer``): it goes into the next one."""

    def reset(self) -> None:
        self.outcome, self.error, self.deferred = None, None, False


_STOP = object()


class _Batch:
    """What a batch's units appended, gathered unit by unit, and what they were told."""

    def __init__(self, db: Database, conn: Connection, recorded: frozenset[ClientIdPair]) -> None:
        self.db = db
        self.conn = conn
        self.now = datetime.now(UTC)
        self.recorded = recorded
        self.seq = 0
        self.events: list[Event] = []
        self.rows: list[dict[str, Any]] = []
        self.seq_fields: list[tuple[dict[str, Any], str]] = []
        self.pairs: set[ClientIdPair] = set()

    def begin(self, jobs: list[_Job[Any]]) -> None:
        serial = not all(job.parallel for job in jobs)
        self.seq = self.db.begin_batch(self.conn, serial=serial)

    def context(self) -> WriteContext:
        return WriteContext(self.conn, self.now, self.seq, self.db.blobs, self.recorded, self.pairs)

    def check(self, ctx: WriteContext) -> None:
        """Before keeping what a unit did (PostgreSQL): refuse a client id it was told is
        recorded, and defer one an earlier unit of the batch appended."""
        if not ctx.late:
            return
        pairs = [(r["actor"], r["client_id"]) for r in ctx.rows if r["client_id"] is not None]
        told = self.recorded.intersection(pairs)
        if told:
            actor, client_id = min(told)
            raise Conflict(
                f"id {client_id!r} was already recorded for {actor}",
                field="id",
                code="duplicate_id",
            )
        if len(set(pairs)) < len(pairs):  # the unit's own retry: as SQLite's unique index
            raise Conflict("the same id was appended twice", field="id", code="duplicate_id")
        if self.pairs.intersection(pairs):
            raise _Defer

    def keep(self, ctx: WriteContext) -> None:
        self.seq = ctx.seq
        self.events.extend(ctx.events)
        self.rows.extend(ctx.rows)
        self.seq_fields.extend(ctx.seq_fields)
        self.pairs.update((r["actor"], r["client_id"]) for r in ctx.rows if r["client_id"])

    def commit(self) -> list[Event]:
        """Commit; the events as numbered for good, and the results' seqs corrected."""
        first = self.db.commit_batch(self.conn, self.rows)
        if first is None or first == self.events[0].seq:
            return self.events
        shift = first - self.events[0].seq
        for into, key in self.seq_fields:
            into[key] += shift
        return [replace(event, seq=event.seq + shift) for event in self.events]


def run_batch(db: Database, conn: Connection, jobs: list[_Job[Any]]) -> list[Event]:
    """Run ``jobs`` in one transaction, recording each one's outcome or error on it.

    Jobs submitted with the same bulk function (``Writer.submit_bulk``) run together, at the
    place of the first of them, in one call: a handful of statements for the whole group
    instead of a handful per job. If the group fails, each of its jobs is retried alone, so
    a bad item is refused on its own and its neighbours still succeed.

    A batch first runs without savepoints, two round trips fewer per job or group; if any of
    them raises, that transaction is rolled back and the batch runs again the guarded way, each
    job or group in its own savepoint. If the commit finds client ids already in the log
    (PostgreSQL: ``ClientIdsRecorded``), the whole batch runs again, told which.
    """
    recorded: frozenset[ClientIdPair] = frozenset()
    while True:
        for job in jobs:
            job.reset()
        try:
            events = _run_unguarded(_Batch(db, conn, recorded), jobs)
            if events is not None:
                return events
            return _run_guarded(_Batch(db, conn, recorded), jobs)
        except ClientIdsRecorded as found:
            if found.pairs <= recorded:
                raise RuntimeError("the log refused client ids the batch was told of") from None
            recorded |= found.pairs


def _pieces(jobs: list[_Job[Any]]) -> Iterator[tuple[BulkUnit | None, list[_Job[Any]]]]:
    """The batch in the order it runs: each plain job alone, each bulk group (its jobs
    together) at the place of its first job."""
    groups: dict[BulkUnit, list[_Job[Any]]] = {}
    for job in jobs:
        if job.bulk is not None:
            groups.setdefault(job.bulk, []).append(job)
    for job in jobs:
        if job.bulk is None:
            yield None, [job]
            continue
        group = groups.pop(job.bulk, None)
        if group is not None:  # else already run with the first job of its group
            yield job.bulk, group


def _run_unguarded(batch: _Batch, jobs: list[_Job[Any]]) -> list[Event] | None:
    """The whole batch without a savepoint; ``None`` (nothing written) if any piece raised."""
    outcomes: list[tuple[list[_Job[Any]], list[Any]]] = []
    with batch.conn.begin() as transaction:
        batch.begin(jobs)
        try:
            for bulk, group in _pieces(jobs):
                if bulk is None:
                    outcomes.append((group, [_keep(batch, _unit_of(group[0]))]))
                else:
                    items = [job.item for job in group]
                    outcomes.append((group, _keep(batch, partial(_together, bulk, items))))
        except BaseException:
            transaction.rollback()
            return None
        events = batch.commit()
    for group, results in outcomes:
        for job, result in zip(group, results, strict=True):
            job.outcome = result
    return events


def _run_guarded(batch: _Batch, jobs: list[_Job[Any]]) -> list[Event]:
    with batch.conn.begin():
        batch.begin(jobs)
        for bulk, group in _pieces(jobs):
            if bulk is None:
                _run_one(batch, group[0], _unit_of(group[0]))
            else:
                _run_group(batch, bulk, group)
        return batch.commit()


def _keep(batch: _Batch, work: Unit[T]) -> T:
    """Run ``work`` in a context of its own and add what it did to the batch's."""
    ctx = batch.context()
    result = work(ctx)
    ctx.flush()
    batch.check(ctx)
    batch.keep(ctx)
    return result


def _attempt(batch: _Batch, work: Unit[T]) -> T:
    """Run ``work`` in a savepoint and keep what it did; if it raises, undo it and raise."""
    savepoint = batch.conn.begin_nested()
    try:
        result = _keep(batch, work)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result


def _run_group(batch: _Batch, bulk: BulkUnit, group: list[_Job[Any]]) -> None:
    if len(group) > 1:
        items = [job.item for job in group]
        try:
            results = _attempt(batch, partial(_together, bulk, items))
        except BaseException:
            pass  # each is retried alone below
        else:
            for job, result in zip(group, results, strict=True):
                job.outcome = result
            return
    for job in group:
        _run_one(batch, job, partial(_alone, bulk, job.item))


def _unit_of(job: _Job[T]) -> Unit[T]:
    assert job.unit is not None, "a job without a bulk function has a unit"
    return job.unit


def _together(bulk: BulkUnit, items: list[Any], ctx: WriteContext) -> list[Any]:
    return bulk(ctx, items)


def _alone(bulk: BulkUnit, item: Any, ctx: WriteContext) -> Any:
    return bulk(ctx, [item])[0]


def _run_one(batch: _Batch, job: _Job[Any], unit: Unit[Any]) -> None:
    try:
        job.outcome = _attempt(batch, unit)
    except BaseException as exc:
        if isinstance(exc, _Defer) or _met_another_batch(exc):
            if job.deferrals < MAX_DEFERRALS:
                job.deferred = True
                job.deferrals += 1
                return
            exc = ServiceUnavailable("the write kept meeting others at once; retry it")
        elif not isinstance(exc, McosError):
            log.exception("write failed")
        job.error = exc


MAX_DEFERRALS = 5
"""How many batches a write may be set aside into (``_Defer``, a deadlock) before it fails."""


def _met_another_batch(exc: BaseException) -> bool:
    """A deadlock PostgreSQL broke by failing this statement: the unit's savepoint is rolled
    back, its locks with it, and it runs again in the next batch."""
    return isinstance(getattr(exc, "orig", exc), psycopg.errors.DeadlockDetected)


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

    async def submit_bulk(self, bulk: BulkUnit, item: Any, *, parallel: bool = False) -> Any:
        """Run ``item`` through ``bulk`` together with the other items of its batch.

        ``parallel``: ``bulk`` is safe beside other replicas' batches without the serial
        lock (``Database.begin_batch``): it locks the rows it reads to change them
        (``FOR UPDATE``, in key order) and otherwise only inserts and appends. A batch made
        only of such jobs runs beside the others.
        """
        job: _Job[Any] = _Job(None, bulk, item, loop=asyncio.get_running_loop(), parallel=parallel)
        return await self._put_async(job)

    def submit_nowait(self, unit: Unit[T]) -> concurrent.futures.Future[T]:
        """From a plain thread: a future to wait on (CLI commands, tests)."""
        return self._put_threaded(_Job(unit))

    def submit_bulk_nowait(
        self, bulk: BulkUnit, item: Any, *, parallel: bool = False
    ) -> concurrent.futures.Future[Any]:
        return self._put_threaded(_Job(None, bulk, item, parallel=parallel))

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
            carried: list[_Job[Any]] = []
            while not stopping or carried:
                jobs, carried = carried, []
                if not jobs:
                    first = self._queue.get()
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
                    carried = self._commit(conn, jobs)

    def _commit(self, conn: Connection, jobs: list[_Job[Any]]) -> list[_Job[Any]]:
        """Run and settle a batch; answer the jobs deferred to the next one."""
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
        deferred = [job for job in jobs if job.deferred and job.error is None]
        _settle([job for job in jobs if not job.deferred or job.error is not None])
        if events:
            try:
                self.on_commit(events)
            except Exception:
                log.exception("publishing %d committed events failed", len(events))
        return deferred


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
        while job.deferred:  # a deadlock PostgreSQL broke against another replica's batch
            run_batch(db, conn, [job])
    if job.error is not None:
        raise job.error
    result: T = job.outcome
    return result
