"""A durable local outbox: reports to the control plane survive its outages and our restarts.

A report (one HTTP request: usage, a memory note, task progress) is committed to a local SQLite
file before ``put`` returns, then delivered by ``run``: in order for each agent, the agents'
lanes side by side (one agent's reports depend on each other, such as its memory flush and the
compaction after it; two agents' do not). Each report carries a client id (``body["id"]``) that
the control plane records once per actor, so a report delivered twice (its answer was lost, or
we died before noting the delivery) is answered ``duplicate`` and counts as delivered. While a
report waits for the control plane to come back, nothing after it is delivered first.

One thread owns the SQLite connection and commits whatever was submitted meanwhile in one
transaction (group commit), so the many ``put`` calls of a busy agent loop share each fsync.
Values kept with ``keep`` (an agent's saved state) take their place in the same order.
Use an outbox from one event loop, and open a file with one ``Outbox`` at a time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import random
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from mcos.errors import McosError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER PRIMARY KEY, agent TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    body TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY, agent TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    body TEXT NOT NULL, created_at REAL NOT NULL,
    status INTEGER NOT NULL, error TEXT NOT NULL, rejected_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS kept (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""
_COLUMNS = "seq, agent, method, path, body, created_at"
MAX_SERVER_ERRORS = 5
"""A report the control plane answers with a 5xx this many times is set aside, not retried
forever behind the reports after it. An outage (no answer at all) never sets one aside."""
_PAGE = 256
_MAX_BATCH = 4_096


class OutboxClosed(McosError):
    """The outbox was closed; nothing more can be put or delivered through it."""

    code = "outbox_closed"


@dataclass(frozen=True)
class Report:
    """One request to the control plane, as it will be sent."""

    seq: int
    """Position in this outbox: reports are delivered in this order."""
    agent: str
    """The agent it is for; the deliver callback sends it with that agent's token."""
    method: str
    path: str
    body: dict[str, Any]
    """Always has an ``id``: the caller's, or ``{outbox_id}-{seq}``."""
    created_at: float
    """When it was put (seconds since the epoch)."""


@dataclass(frozen=True)
class RejectedReport:
    """A report the control plane refused with a 4xx: it will never succeed as it is."""

    report: Report
    status: int
    error: str
    """The control plane's error message."""
    rejected_at: float


@dataclass(frozen=True)
class DeliveryResult:
    """What the deliver callback made of one attempt; build it with the class methods."""

    kind: Literal["delivered", "duplicate", "rejected", "retry"]
    status: int | None = None
    error: str | None = None

    @classmethod
    def delivered(cls) -> DeliveryResult:
        return cls("delivered")

    @classmethod
    def duplicate(cls) -> DeliveryResult:
        """409 ``duplicate_id``: an earlier delivery was recorded; counts as delivered."""
        return cls("duplicate")

    @classmethod
    def rejected(cls, status: int, error: str) -> DeliveryResult:
        """Any other 4xx: the report is set aside with the error, and delivery moves on."""
        return cls("rejected", status, error)

    @classmethod
    def retry(cls, status: int | None = None, error: str | None = None) -> DeliveryResult:
        """Unreachable, timeout, 5xx, 429: the same report is tried again after a backoff.

        ``status`` is the answer's 5xx, if the control plane answered: the same report failing
        on the server :data:`MAX_SERVER_ERRORS` times is set aside (it would block its lane).
        """
        return cls("retry", status, error)


Deliver = Callable[[Report], Awaitable[DeliveryResult]]
DeliverMany = Callable[[list[Report]], Awaitable[list[DeliveryResult] | None]]
"""Sends many reports at once, in order: one result each, or ``None`` if it could not (then
each goes through :data:`Deliver`). A ``retry`` result sends that report and its agent's later
ones through :data:`Deliver`, which waits out what is wrong."""
_Op = Callable[[sqlite3.Connection], tuple[Any, int]]
"""Work for the outbox's thread: returns its result and the change to the pending count."""


def backoff_delay(attempt: int, start: float = 0.5, cap: float = 30.0) -> float:
    """The wait before retry ``attempt`` (1, 2, ...): doubling from ``start``, up to ``cap``.

    Drawn from the upper half of that (jitter), so that many runners do not retry in step.
    """
    ceiling = min(cap, start * 2 ** min(attempt - 1, 32))
    return random.uniform(ceiling / 2, ceiling)


class _Job:
    __slots__ = ("error", "future", "loop", "op", "outcome", "put_seq")

    def __init__(self, op: _Op, loop: asyncio.AbstractEventLoop, put_seq: int) -> None:
        self.op = op
        self.loop = loop
        self.put_seq = put_seq
        self.future: asyncio.Future[Any] = loop.create_future()
        self.outcome: Any = None
        self.error: BaseException | None = None


_STOP = object()


class Outbox:
    """Reports kept in a local SQLite file and delivered in order, each recorded once."""

    def __init__(
        self,
        path: Path,
        deliver: Deliver,
        *,
        backoff_start: float = 0.5,
        backoff_cap: float = 30.0,
        on_set_aside: Callable[[RejectedReport], Awaitable[None]] | None = None,
        deliver_many: DeliverMany | None = None,
        linger: float = 0.0,
    ) -> None:
        self.path = path
        self._deliver = deliver
        self._deliver_many = deliver_many
        """Used first for whatever is waiting: one request for many reports."""
        self._linger = linger if deliver_many is not None else 0.0
        """Seconds the first report after a quiet spell waits for others to share its bundle
        (a task's usage, comment and moves come a few milliseconds apart)."""
        self._on_set_aside = on_set_aside
        """Told of each report set aside (the runner shows it on the agent's card)."""
        self._backoff = (backoff_start, backoff_cap)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._delivering = False
        self._wake = asyncio.Event()  # a report was put
        self._kick = asyncio.Event()  # drain() wants a retry now, not after the backoff
        self._progress = asyncio.Event()  # a delivery was noted
        self.commits = 0
        """Transactions committed so far (many puts share one under load)."""
        self._synchronous = "FULL"
        """The connection's ``PRAGMA synchronous`` (the thread's own)."""
        ready: concurrent.futures.Future[tuple[str, int, int, dict[str, int]]] = (
            concurrent.futures.Future()
        )
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name=f"mcos-outbox:{path.name}", daemon=True
        )
        self._thread.start()
        self.outbox_id, self._last_seq, self._pending, waiting = ready.result()
        self._lanes: Counter[str] = Counter(waiting)
        """Reports not yet settled, by agent (as far as this event loop has seen)."""

    # -- the caller's side ---------------------------------------------------------------

    async def put(self, agent: str, method: str, path: str, body: dict[str, Any]) -> Report:
        """Queue a report; returns once it is durably committed (it survives a crash).

        A caller cancelled meanwhile leaves the report queued: it is committed and delivered.
        """
        report: Report = await asyncio.shield(self.queue(agent, method, path, body))
        return report

    def queue(
        self, agent: str, method: str, path: str, body: dict[str, Any]
    ) -> asyncio.Future[Report]:
        """Queue a report and return at once: the future resolves once it is committed.

        Its place in the order is taken now. A caller that goes on before the commit (a step's
        usage, committed with the reports that follow it) awaits the future before anything
        that must not outlive the report in a crash.
        """
        if self._closed:
            raise OutboxClosed(f"the outbox {self.path} is closed")
        seq = self._last_seq + 1
        data = dict(body)
        if data.get("id") is None:
            data["id"] = f"{self.outbox_id}-{seq}"
        text = orjson.dumps(data).decode()  # a body that is not JSON fails here, taking no seq
        self._last_seq = seq  # before any await: seq order is submission order is commit order
        report = Report(seq, agent, method, path, data, time.time())

        def insert(conn: sqlite3.Connection) -> tuple[Report, int]:
            conn.execute(
                f"INSERT INTO reports ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (seq, agent, method, path, text, report.created_at),
            )
            return report, 1

        committed: asyncio.Future[Report] = self._submit(insert, put_seq=seq)
        self._wake.set()  # delivery's next fetch is queued after this insert, so it sees it
        self._lanes[agent] += 1

        def uncount(future: asyncio.Future[Report]) -> None:
            if future.cancelled() or future.exception() is not None:
                self._lanes[agent] -= 1

        committed.add_done_callback(uncount)
        return committed

    def keep(self, key: str, value: bytes) -> asyncio.Future[None]:
        """Queue ``value`` to replace what is kept under ``key``, in order with the reports:
        committed with those queued around it, never before one queued ahead of it. The future
        resolves once it is committed.

        For what must never be ahead of the reports in a crash: an agent's saved state, kept
        after the reports of the step it records (:meth:`kept` reads it back on a restart).
        """
        if not isinstance(value, bytes):
            raise TypeError(f"kept values are bytes, not {type(value).__name__}")

        def upsert(conn: sqlite3.Connection) -> tuple[None, int]:
            conn.execute("INSERT OR REPLACE INTO kept (key, value) VALUES (?, ?)", (key, value))
            return None, 0

        return self._submit(upsert)

    def kept(self, key: str) -> bytes | None:
        """What is committed under ``key`` (``None``: nothing); read from the file, so what is
        queued and not yet committed is not in it."""
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            row = conn.execute("SELECT value FROM kept WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def pending(self) -> int:
        """Reports not yet delivered (nor set aside as rejected)."""
        return self._pending

    async def delivered(self) -> None:
        """Return once no report is pending (delivered, or set aside as rejected)."""
        await self._until_empty()

    def pending_for(self, agent: str) -> int:
        """Reports of ``agent`` not yet delivered nor set aside."""
        return self._lanes[agent]

    async def delivered_for(self, agent: str) -> None:
        """Return once no report of ``agent`` is pending: what it says next cannot overtake
        what it reported before."""
        while self._lanes[agent] > 0 and not self._closed:
            self._progress.clear()
            await self._progress.wait()

    def rejected(self) -> list[RejectedReport]:
        """Reports the control plane refused, oldest first, with its error (works after close)."""
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS}, status, error, rejected_at FROM rejected ORDER BY seq"
            ).fetchall()
        return [RejectedReport(_report(r), r[6], r[7], r[8]) for r in rows]

    async def run(self) -> None:
        """Deliver reports as they come, until the outbox closes; run it as a task."""
        if self._delivering:
            raise RuntimeError("this outbox is already delivering")
        with contextlib.suppress(OutboxClosed):
            await self._pump(until_empty=False)

    async def drain(self, timeout: float) -> int:  # noqa: ASYNC109 (the runner's SIGTERM budget)
        """Deliver what can be within ``timeout`` seconds; returns how many reports remain."""
        with contextlib.suppress(TimeoutError, OutboxClosed):
            if self._delivering:  # run() is at it: cut its backoff short and wait
                self._kick.set()
                await asyncio.wait_for(self._until_empty(), timeout)
            else:
                await asyncio.wait_for(self._pump(until_empty=True), timeout)
        if not self._closed:
            await self._submit(lambda conn: (None, 0))  # deliveries noted are counted
        return self._pending

    def close(self) -> None:
        """Commit what was put, then stop; ``run`` returns. Call it on the loop's thread."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._kick.set()
        self._queue.put(_STOP)
        self._thread.join()

    # -- delivery ------------------------------------------------------------------------

    async def _pump(self, *, until_empty: bool) -> None:
        self._delivering = True
        try:
            after = 0
            while not self._closed:
                self._wake.clear()
                page: list[Report] = await self._submit(_fetch_after(after))
                if not page:
                    if until_empty:
                        return
                    await self._wake.wait()
                    if self._linger:
                        await asyncio.sleep(self._linger)
                    continue
                lanes = await self._deliver_bundled(page)
                await asyncio.gather(*(self._deliver_lane(lane) for lane in lanes.values()))
                after = page[-1].seq
        finally:
            self._delivering = False

    async def _deliver_bundled(self, page: list[Report]) -> dict[str, list[Report]]:
        """Deliver ``page`` in bundles if we can; what is left, by agent, in order."""
        lanes: dict[str, list[Report]] = {}
        results: list[DeliveryResult] | None = None
        if self._deliver_many is not None:
            try:
                results = await self._deliver_many(page)
            except Exception:  # a bug: every report goes the one-by-one way
                log.exception("outbox: delivering %d reports at once failed", len(page))
        if results is None:
            for report in page:
                lanes.setdefault(report.agent, []).append(report)
            return lanes
        for report, result in zip(page, results, strict=True):
            if report.agent in lanes or result.kind == "retry":
                lanes.setdefault(report.agent, []).append(report)
            else:
                await self._settle_report(report, result)
        return lanes

    async def _deliver_lane(self, reports: list[Report]) -> None:
        for report in reports:
            await self._deliver_one(report)

    async def _deliver_one(self, report: Report) -> None:
        attempt = server_errors = 0
        while True:
            why = "the control plane asked for a retry"
            try:
                result = await self._deliver(report)
            except Exception as exc:  # unreachable, a timeout, or a bug: the report waits
                why, result = repr(exc), DeliveryResult.retry()
            if result.kind == "retry" and result.status is not None and result.status >= 500:
                server_errors += 1
                why = result.error or f"HTTP {result.status}"
                if server_errors >= MAX_SERVER_ERRORS:  # it fails on the server, every time
                    result = DeliveryResult.rejected(
                        result.status, f"{why} ({server_errors} times)"
                    )
            if result.kind != "retry":
                break
            attempt += 1
            delay = backoff_delay(attempt, *self._backoff)
            log.info("outbox: report #%d waits %.1f s: %s", report.seq, delay, why)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), delay)
            self._kick.clear()
            if self._closed:
                raise OutboxClosed(f"the outbox {self.path} is closed")
        await self._settle_report(report, result)

    async def _settle_report(self, report: Report, result: DeliveryResult) -> None:
        """Note a report delivered, or set it aside as rejected."""
        self._lanes[report.agent] -= 1
        rejection = None
        if result.kind == "rejected":
            what = f"{report.method} {report.path} for {report.agent}"
            rejection = (result.status or 0, result.error or "")
            log.warning(
                "outbox: report #%d (%s) rejected: HTTP %d %s", report.seq, what, *rejection
            )
        # Not awaited: the next delivery need not wait for this fsync, and the thread commits
        # it before any later fetch. Lost in a crash, the report is delivered again: duplicate.
        self._submit(_done_with(report.seq, rejection)).add_done_callback(self._noted)
        if rejection is not None and self._on_set_aside is not None:
            try:
                await self._on_set_aside(RejectedReport(report, *rejection, time.time()))
            except Exception:  # telling is best effort; the report is kept in `rejected`
                log.exception("outbox: telling of report #%d set aside failed", report.seq)

    def _noted(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("outbox: noting a delivery failed: %r", future.exception())
        self._progress.set()

    async def _until_empty(self) -> None:
        while self._pending > 0 and not self._closed:
            self._progress.clear()
            await self._progress.wait()

    # -- the thread that owns the SQLite connection --------------------------------------

    def _submit(self, op: _Op, put_seq: int = 0) -> asyncio.Future[Any]:
        if self._closed:
            raise OutboxClosed(f"the outbox {self.path} is closed")
        job = _Job(op, asyncio.get_running_loop(), put_seq)
        self._queue.put(job)
        return job.future

    def _serve(
        self, ready: concurrent.futures.Future[tuple[str, int, int, dict[str, int]]]
    ) -> None:
        try:
            conn = _open(self.path)
        except BaseException as exc:
            ready.set_exception(exc)
            return
        with contextlib.closing(conn):
            ready.set_result(_load_state(conn))
            for jobs in _batches(self._queue):
                self._commit(conn, jobs)

    def _commit(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        delta = 0
        last = max(job.put_seq for job in jobs)
        try:
            # Only a batch that puts reports waits for the disk. The rest does not: in WAL mode
            # its commit survives the process being killed, and what a power cut can lose costs
            # nothing: a delivery noted is delivered again (answered ``duplicate``), a kept state
            # one step older is a step redone. The next put's fsync makes it durable too.
            level = "FULL" if last else "NORMAL"
            if level != self._synchronous:
                conn.execute(f"PRAGMA synchronous={level}")
                self._synchronous = level
            conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                try:
                    job.outcome, change = job.op(conn)
                    delta += change
                except Exception as exc:
                    job.error = exc
            if last:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (str(last),))
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:
            log.exception("outbox: commit failed; %d operations refused", len(jobs))
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            for job in jobs:
                job.error = job.error or exc
            delta = 0
        self._pending += delta  # before settling: whoever is told of the commit sees it counted
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, group in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, group)


def _fetch_after(after: int) -> _Op:
    def fetch(conn: sqlite3.Connection) -> tuple[list[Report], int]:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM reports WHERE seq > ? ORDER BY seq LIMIT ?", (after, _PAGE)
        ).fetchall()
        return [_report(r) for r in rows], 0

    return fetch


def _done_with(seq: int, rejection: tuple[int, str] | None) -> _Op:
    """Forget a delivered report, or move it to ``rejected`` with ``(status, error)``."""

    def done(conn: sqlite3.Connection) -> tuple[None, int]:
        if rejection is not None:
            conn.execute(
                f"INSERT OR REPLACE INTO rejected ({_COLUMNS}, status, error, rejected_at) "
                f"SELECT {_COLUMNS}, ?, ?, ? FROM reports WHERE seq = ?",
                (*rejection, time.time(), seq),
            )
        return None, -conn.execute("DELETE FROM reports WHERE seq = ?", (seq,)).rowcount

    return done


def _report(row: Any) -> Report:
    return Report(row[0], row[1], row[2], row[3], orjson.loads(row[4]), row[5])


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a put that returned survives a power cut
    conn.executescript(_SCHEMA)
    return conn


def _load_state(conn: sqlite3.Connection) -> tuple[str, int, int, dict[str, int]]:
    """This file's outbox id (made once), the last seq ever given, and the reports pending, in
    all and by agent."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT OR IGNORE INTO meta VALUES ('outbox_id', ?), ('last_seq', '0')",
        (secrets.token_hex(8),),
    )
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    conn.execute("COMMIT")
    waiting = dict(conn.execute("SELECT agent, count(*) FROM reports GROUP BY agent").fetchall())
    return str(meta["outbox_id"]), int(meta["last_seq"]), sum(waiting.values()), waiting


def _batches(jobs: queue.SimpleQueue[Any]) -> Iterator[list[_Job]]:
    """What was submitted while the last batch committed; ends at close (after its batch)."""
    while (first := jobs.get()) is not _STOP:
        batch = [first]
        while len(batch) < _MAX_BATCH:
            try:
                item = jobs.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                yield batch
                return
            batch.append(item)
        yield batch


def _settle(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done():  # its caller was cancelled
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.outcome)
