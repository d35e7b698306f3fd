"""Engines for SQLite and PostgreSQL, and the few places where the two backends differ.

SQLite: one file, WAL, and one writer connection (owned by :class:`mcos.storage.writer.Writer`)
that takes the write lock up front with ``BEGIN IMMEDIATE``. PostgreSQL: the same code, with
several control-plane replicas writing at once; a batch's events are numbered and inserted at
its commit, under an advisory lock taken last, so that sequence numbers commit in order while
the replicas' batches run side by side. A writer batch opens its transaction with
:meth:`Database.begin_batch` and ends it with :meth:`Database.commit_batch`. On PostgreSQL the
``BEGIN`` costs no round trip of its own: it goes out with the batch's first statement, and a
batch that only appends sends it with the lock, the numbered insert, ``NOTIFY`` and ``COMMIT``
in its one round trip.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import orjson
import psycopg
from psycopg.types.datetime import TimestamptzLoader
from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, QueuePool

from mcos.storage import tables
from mcos.storage.blobs import BlobStore, open_blob_store

if TYPE_CHECKING:
    from mcos.storage.migrations import Upgrade

T = TypeVar("T")

# Any constants; identify "the event log append lock" and "the serial batches' lock" among
# PostgreSQL advisory locks.
EVENT_LOG_LOCK = 0x6D636F73
SERIAL_BATCH_LOCK = 0x6D636F74
EVENTS_CHANNEL = "mcos_events"

# Keys of the writer connection's ``info`` (PostgreSQL): the statements that open the batch's
# transaction, not sent yet, and the last seq this connection appended or read.
_PENDING_BEGIN = "mcos.pending_begin"
_LOG_END = "mcos.log_end"
_BEGIN = ("BEGIN",)
_BEGIN_SERIAL = ("BEGIN", f"SELECT pg_advisory_xact_lock({SERIAL_BATCH_LOCK})")


class _UTCTimestamptzLoader(TimestamptzLoader):
    def load(self, data: Any) -> datetime:
        return super().load(data).astimezone(UTC)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# JSON columns through orjson: several times faster than the standard library's json, which is
# most of what inserting an event row costs.
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


class Database:
    """Engines and dialect differences for one database URL."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.url = make_url(url)
        self.replica = uuid.uuid4().hex[:12]
        """Names this process's commits in ``NOTIFY`` payloads (``replica:seq``)."""
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        beside = Path(self.url.database or ".").resolve().parent if self.is_sqlite else Path(".")
        self.blobs: BlobStore = open_blob_store(
            "auto", is_sqlite=self.is_sqlite, directory=None, beside=beside
        )
        """Where artifact content goes: by default a folder beside the SQLite file, or large
        objects in PostgreSQL; ``open_database`` applies ``MCOS_ARTIFACTS_*``."""
        if self.is_sqlite:
            self.read_engine = self._sqlite_engine(sqlite_synchronous, immediate=False)
            self.write_engine = self._sqlite_engine(sqlite_synchronous, immediate=True)
        else:
            # No server-side prepared statements: PostgreSQL would keep a plan made while the
            # log was empty (a full read of an actor's events for every duplicate-id check).
            unprepared = {"prepare_threshold": None}
            self.read_engine = create_engine(
                self.url,
                poolclass=QueuePool,
                pool_size=8,
                max_overflow=8,
                pool_pre_ping=True,
                connect_args=unprepared,
                **JSON_CODEC,
            )
            self.write_engine = create_engine(
                self.url, poolclass=NullPool, connect_args=unprepared, **JSON_CODEC
            )

    def _sqlite_engine(self, synchronous: str, *, immediate: bool) -> Engine:
        engine = create_engine(
            self.url,
            poolclass=QueuePool,
            pool_size=8 if not immediate else 1,
            max_overflow=0,
            connect_args={"check_same_thread": False, "timeout": 30},
            **JSON_CODEC,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's BEGIN below be the only transaction control.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

        return engine

    @contextmanager
    def batch_connection(self) -> Iterator[Connection]:
        """The writer's connection, for :meth:`begin_batch` and :meth:`commit_batch`.

        On PostgreSQL the driver is in autocommit, so that it sends no ``BEGIN`` of its own:
        ``begin_batch`` sends it together with the lock, and ``commit_batch`` ends the
        transaction (SQLAlchemy's commit then finds nothing open and sends nothing).
        """
        with self.write_engine.connect() as conn:
            if not self.is_sqlite:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                event.listen(conn, "before_cursor_execute", _begin_first)
                event.listen(conn, "rollback", _forget_begin)
                # Rows read past SQLAlchemy (storage.together) come back in UTC as its own do,
                # whatever the server's TimeZone.
                raw = conn.connection.dbapi_connection
                raw.adapters.register_loader("timestamptz", _UTCTimestamptzLoader)  # type: ignore[union-attr]
            yield conn

    def begin_batch(self, conn: Connection, *, serial: bool = True) -> int:
        """Open the batch's transaction and return the log's last sequence number as known now.

        SQLite's ``BEGIN IMMEDIATE`` holds the only write lock: the number is final, and the
        batch's events are numbered from it and inserted as its units run. On PostgreSQL the
        number is where the batch's events are numbered from *provisionally*;
        :meth:`commit_batch` numbers them for good. A ``serial`` batch first takes the advisory
        transaction lock ``SERIAL_BATCH_LOCK``, so serial batches of every replica run one at a
        time, as if there were one writer; the others (``Writer.submit_bulk(parallel=True)``:
        heartbeats, usage reports, posted events) take no lock here and run beside them.

        On PostgreSQL no round trip: ``BEGIN`` (and the lock) wait on the connection and go out
        with its next statement (one simple query before a statement of SQLAlchemy's, the head
        of ``run_together``'s or ``commit_batch``'s pipeline). Nothing a unit reads or writes
        can run before them. The number is the last seq this connection appended or read, so
        it is behind when other processes appended since; ``commit_batch`` shifts by the
        difference as for any other replica's append. The connection's first batch reads
        ``max(seq)`` with its ``BEGIN`` in one round trip.
        """
        if self.is_sqlite:
            return self.last_seq(conn)
        begin = _BEGIN_SERIAL if serial else _BEGIN
        known = conn.info.get(_LOG_END)
        if known is not None:
            conn.info[_PENDING_BEGIN] = begin
            return int(known)
        with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute("; ".join([*begin, "SELECT coalesce(max(seq), 0) FROM events"]))
            while cursor.nextset():
                pass
            row = cursor.fetchone()
        assert row is not None, "max(seq) answers one row"
        conn.info[_LOG_END] = int(row[0])
        return int(row[0])

    def commit_batch(self, conn: Connection, rows: list[dict[str, Any]]) -> int | None:
        """Commit the batch begun by :meth:`begin_batch`, appending ``rows`` (event rows in
        their order, not yet inserted: PostgreSQL's), and answer the sequence number the first
        of them got (``None`` when there were none).

        On PostgreSQL, one round trip (psycopg's pipeline mode): the advisory transaction lock
        (``EVENT_LOG_LOCK``); one statement that numbers the rows from ``max(seq)``, inserts
        them and sends ``NOTIFY mcos_events, '<replica>:<last seq>'``; ``COMMIT``. The lock is
        the batch's last and is held only while the server runs those three: it serialises the
        replicas' appends, not their batches. The insert is its own statement after the lock,
        so in READ COMMITTED its snapshot sees every append committed before the lock was ours:
        numbers commit in order, without gaps, and a reader that sees seq N sees every seq
        below it. A batch that appends nothing commits without the lock. A ``BEGIN`` still
        waiting (the batch sent nothing before) goes first in the same round trip.

        An (actor, client id) pair already in the log fails the insert; the transaction is
        rolled back and :class:`ClientIdsRecorded` names the pairs, for the writer to run the
        batch again knowing them. On SQLite the caller's ``conn.begin()`` block commits.
        """
        if self.is_sqlite:
            assert not rows, "on SQLite the events are inserted as the units run"
            return None
        raw = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
        if not rows:
            if conn.info.pop(_PENDING_BEGIN, None) is None:  # else no transaction was opened
                raw.execute("COMMIT")
            return None
        columns = _event_columns(rows)
        try:
            with raw.pipeline():
                send_pending_begin(conn, raw)
                raw.execute(f"SELECT pg_advisory_xact_lock({EVENT_LOG_LOCK})")
                numbered = raw.execute(
                    _APPEND_PG, [*columns, EVENTS_CHANNEL, f"{self.replica}:", len(rows)]
                )
                raw.execute("COMMIT")
        except psycopg.errors.UniqueViolation:
            raw.execute("ROLLBACK")
            pairs = [(r["actor"], r["client_id"]) for r in rows if r["client_id"] is not None]
            found = recorded_client_ids(conn, pairs) if pairs else set()
            if not found:
                raise
            raise ClientIdsRecorded(found) from None
        row = numbered.fetchone()
        assert row is not None, "the append answers its base"
        conn.info[_LOG_END] = int(row[0]) + len(rows)
        return int(row[0]) + 1

    def libpq_url(self) -> str:
        """The URL for a plain psycopg connection (no SQLAlchemy driver suffix)."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def last_seq(self, conn: Connection) -> int:
        value = conn.execute(select(func.max(tables.events.c.seq))).scalar()
        return int(value or 0)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.read_engine.connect() as conn:
            yield conn

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        with self.reading() as conn:
            return fn(conn, *args)

    def migrate(self) -> Upgrade:
        """Bring the schema to the newest migration (creates it on an empty database), under
        the migration lock, so replicas starting at once upgrade it once."""
        from mcos.storage.migrations import upgrade

        return upgrade(self.write_engine)

    def dispose(self) -> None:
        self.read_engine.dispose()
        self.write_engine.dispose()


def send_pending_begin(conn: Connection, raw: psycopg.Connection[Any]) -> None:
    """Inside a psycopg pipeline on the writer's connection: first open the batch's transaction,
    if :meth:`Database.begin_batch` left that waiting."""
    for statement in conn.info.pop(_PENDING_BEGIN, ()):
        raw.execute(statement)


def _begin_first(conn: Connection, cursor: Any, *_: Any) -> None:
    """Before a statement of SQLAlchemy's on the writer's connection: send the waiting
    ``BEGIN`` (and lock) first, as one simple query."""
    begin = conn.info.pop(_PENDING_BEGIN, None)
    if begin:
        cursor.connection.execute("; ".join(begin))


def _forget_begin(conn: Connection) -> None:
    """A batch rolled back before it sent anything leaves no ``BEGIN`` waiting."""
    conn.info.pop(_PENDING_BEGIN, None)


class ClientIdsRecorded(Exception):
    """The batch's insert met (actor, client id) pairs the log already holds: it was rolled
    back, and the writer runs it again, ``WriteContext.recorded_client_ids`` naming them."""

    def __init__(self, pairs: set[tuple[str, str]]) -> None:
        super().__init__(f"{len(pairs)} client ids already recorded")
        self.pairs = frozenset(pairs)


# Numbers the rows from the log's end as this statement sees it (after the lock), in the
# arrays' order, and tells every replica how far the log now goes. The seven arrays go in
# binary: psycopg's text format escapes every element with a regular expression (17 µs a row,
# against 2.4 here).
_APPEND_PG = (
    "WITH base AS (SELECT coalesce(max(seq), 0) AS m FROM events), "
    "appended AS (INSERT INTO events (seq, ts, type, actor, subject, data, client_id) "
    "SELECT base.m + u.n, u.ts, u.type, u.actor, u.subject, u.data, u.client_id FROM base, "
    "unnest(%b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::jsonb[], %b::text[]) "
    "WITH ORDINALITY AS u(ts, type, actor, subject, data, client_id, n)) "
    "SELECT m, pg_notify(%s::text, %s::text || (m + %s::bigint)) FROM base"
)


def _event_columns(rows: list[dict[str, Any]]) -> list[list[Any]]:
    columns: list[list[Any]] = [[], [], [], [], [], []]
    stamps, types, actors, subjects, data, client_ids = columns
    for row in rows:
        stamps.append(row["ts"])
        types.append(row["type"])
        actors.append(row["actor"])
        subjects.append(row["subject"])
        data.append(_json_text(row["data"]))
        client_ids.append(row["client_id"])
    return columns


def recorded_client_ids(conn: Connection, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (actor, client id) pairs the event log holds; one query."""
    E = tables.events
    # Both columns, so the (actor, client_id) index is used: on client_id alone the whole log
    # is read.
    query = select(E.c.actor, E.c.client_id).where(
        E.c.actor.in_(sorted({actor for actor, _ in pairs})),
        E.c.client_id.in_(sorted({client_id for _, client_id in pairs})),
    )
    wanted = set(pairs)
    return {(r.actor, r.client_id) for r in conn.execute(query)} & wanted
