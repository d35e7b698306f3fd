"""Fan-out between control-plane replicas sharing one PostgreSQL database.

Each commit that appends events sends ``NOTIFY mcos_events`` (delivered only on commit). Every
replica, this one included, listens and then reads the log after the last sequence number it
published, so each replica's live stream carries every replica's events, in sequence order,
without gaps: appends are serialised by an advisory lock, so when seq N is visible every seq below
it is too. A missed notification costs at most ``poll_seconds`` of delay, never an event.

Stopping wakes the listener on a channel of its own, so a shutdown does not wait out a poll.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid

import psycopg

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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_channel = f"mcos_fanout_{uuid.uuid4().hex}"

    def start(self, after_seq: int) -> None:
        self.published = after_seq
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

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.db.libpq_url(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    conn.execute(f"LISTEN {self._wake_channel}")
                    self.catch_up()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                            pass
                        self.catch_up()
            except psycopg.Error:
                log.exception("event fan-out lost its PostgreSQL connection; reconnecting")
                self._stop.wait(1.0)

    def catch_up(self) -> None:
        """Publish every event committed after the last one published, in order."""
        while True:
            with self.db.reading() as conn:
                page = read_events(conn, after=self.published, limit=5_000)
            if not page:
                return
            self.published = page[-1].seq
            self.broker.publish_threadsafe(page)
            if len(page) < 5_000:
                return
