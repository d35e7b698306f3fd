"""Fan-out between control-plane replicas sharing one PostgreSQL database.

Each commit that appends events sends ``NOTIFY mcos_events, '<replica>:<last seq>'`` (delivered
only on commit). Every replica publishes the log in sequence order, without gaps: appends are
serialised by an advisory lock, so when seq N is visible every seq below it is too.

Events this replica's writer committed are published straight from memory
(:meth:`PostgresFanout.publish_committed`) when they follow the last one published; after a gap
(another replica's events first) the writer reads the log from there, its own events included.
The listener ignores this replica's notifications and reads the log for the others' when they
name a seq not yet published. A missed notification costs at most ``poll_seconds`` of delay,
never an event.

Stopping wakes the listener on a channel of its own, so a shutdown does not wait out a poll.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import uuid

import psycopg

from mcos.domain.events import Event
from mcos.services.events import read_events
from mcos.storage.database import EVENTS_CHANNEL, Database
from mcos.stream import Broker

log = logging.getLogger(__name__)


class PostgresFanout:
    def __init__(self, db: Database, broker: Broker, *, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.broker = broker
        self.poll_seconds = poll_seconds
        self.published = 0
        self.read_back = 0
        """Events published from the log rather than from this replica's writer."""
        self._publishing = threading.Lock()
        """Held while publishing, so the writer and the listener hand batches over in order."""
        self._handed: collections.deque[list[Event]] = collections.deque()
        """The writer's committed batches not yet published, oldest first."""
        self._handing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_channel = f"mcos_fanout_{uuid.uuid4().hex}"

    def start(self, after_seq: int) -> None:
        with self._publishing:
            self.published = max(self.published, after_seq)
        self._thread = threading.Thread(target=self._run, name="mcos-fanout", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            # Not woken, it would notice the stop only when its poll times out.
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(self.db.libpq_url(), autocommit=True, connect_timeout=3) as conn,
            ):
                conn.execute(f"NOTIFY {self._wake_channel}")
            self._thread.join(self.poll_seconds * 3)

    def publish_committed(self, events: list[Event]) -> None:
        """The writer's ``on_commit``: publish its events if they follow the last published.

        The writer never waits here: if the listener is publishing (reading other replicas'
        events), or another replica's events come first, the batch is left to the listener,
        which the batch's own ``NOTIFY`` wakes. Waiting for the listener's read after every
        commit held the writer 5.6 of 58 s under load (``bench/scale.py --profile``).
        """
        if not events:
            return
        with self._handing:
            self._handed.append(events)
        self._drain(reading=False)

    def _drain(self, *, reading: bool) -> None:
        """Publish the writer's handed-over batches in order. ``reading``: the listener's
        thread, which waits its turn and reads the log for what comes before a batch; the
        writer never waits (whoever publishes drains the batches before it lets go) and stops
        at such a batch, for the listener."""
        while self._handed and self._publishing.acquire(blocking=reading):
            try:
                while self._handed:
                    events = self._handed[0]
                    if events[-1].seq <= self.published:
                        pass  # a catch-up read them from the log already
                    elif events[0].seq == self.published + 1:
                        self.published = events[-1].seq
                        self.broker.publish_threadsafe(events)
                    elif reading:  # another replica's events come first: the log has both
                        self._read(through=events[-1].seq)
                    else:
                        return
                    with self._handing:
                        self._handed.popleft()
            finally:
                self._publishing.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.db.libpq_url(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    conn.execute(f"LISTEN {self._wake_channel}")
                    self.catch_up()
                    while not self._stop.is_set():
                        others = [
                            _seq_of(notify.payload, self.db.replica)
                            for notify in conn.notifies(timeout=self.poll_seconds, stop_after=1)
                        ]
                        # Our own commits are the writer's to publish; a poll or a wake-up
                        # (no notification) reads the log, so nothing waits long.
                        if not others:
                            self.catch_up()
                        elif max(others) > self.published:
                            self.catch_up(through=max(others))
                        else:
                            self._drain(reading=True)  # our own commit's: the writer's batch
            except psycopg.Error:
                log.exception("event fan-out lost its PostgreSQL connection; reconnecting")
                self._stop.wait(1.0)

    def catch_up(self, through: int | None = None) -> None:
        """Publish every event committed after the last one published, in order; ``through``
        a seq known to be committed (a notification's), to read up to it.

        Bounded so, the read is a range of the primary key, which PostgreSQL reads by the index
        even before it has statistics of the log: unbounded, a young log's ``seq > N ... LIMIT``
        was planned as a scan of every event (found by ``bench/scale.py``, in a database less
        than a minute old). Every seq up to a notified one is committed: appends commit in order.
        """
        with self._publishing:
            self._read(through)
        self._drain(reading=True)

    def _read(self, through: int | None) -> None:
        """Publish from the log, holding ``_publishing``."""
        while True:
            with self.db.reading() as conn:
                page = read_events(conn, after=self.published, limit=5_000, through=through)
            if not page:
                return
            self.published = page[-1].seq
            self.read_back += len(page)
            self.broker.publish_threadsafe(page)
            if len(page) < 5_000:
                return


def _seq_of(payload: str, replica: str) -> int:
    """The seq another replica's notification names; 0 for this replica's own commits, and
    a seq no replica has reached for a payload naming none (so the log is read)."""
    origin, _, seq = payload.rpartition(":")
    if origin == replica:
        return 0
    try:
        return int(seq)
    except ValueError:
        return 1 << 62


# Any constant; identifies "the replica that runs the fleet's periodic work" among advisory locks.
LEADER_LOCK = 0x6D636F75


class Leadership:
    """Which replica runs the fleet-wide periodic work (the liveness sweep, approvals' expiry,
    supervision, schedules): the one whose own connection holds a PostgreSQL session advisory
    lock (``LEADER_LOCK``). Every replica would find the same work, and at 10,000 agents each
    sweep read every agent's row every few seconds on every replica (``bench/scale.py``, the
    standing cost). If the leader stops, or its connection drops, PostgreSQL frees the lock and
    the next replica to ask takes it. On SQLite the one server always leads.

    :meth:`leads` blocks on the database: call it from a thread.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._held = False
        self._lock = threading.Lock()

    def leads(self) -> bool:
        """Whether this replica leads now: takes the lock if it is free."""
        if self.db.is_sqlite:
            return True
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._held = False
                    self._conn = psycopg.connect(
                        self.db.libpq_url(), autocommit=True, connect_timeout=5
                    )
                if self._held:
                    self._conn.execute("SELECT 1")  # still connected, so still ours
                else:
                    row = self._conn.execute(
                        "SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)
                    ).fetchone()
                    self._held = bool(row and row[0])
            except psycopg.Error:
                log.warning("lost the connection that holds the leader lock; asking again")
                self._drop()
            return self._held

    def close(self) -> None:
        """Give the lead up (closing the connection frees the lock)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        self._held = False
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
