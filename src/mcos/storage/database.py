"""Engines for SQLite and PostgreSQL, and the few places where the two backends differ.

SQLite: one file, WAL, and one writer connection (owned by :class:`mcos.storage.writer.Writer`)
that takes the write lock up front with ``BEGIN IMMEDIATE``. PostgreSQL: the same code, with an
advisory lock around appends to the event log so that sequence numbers commit in order even with
several control-plane replicas writing at once. A writer batch opens its transaction with
:meth:`Database.begin_batch` and ends it with :meth:`Database.commit_batch`: on PostgreSQL one
round trip each (``BEGIN``, the lock and ``max(seq)``; ``NOTIFY`` and ``COMMIT``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from psycopg.types.datetime import TimestamptzLoader
from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, QueuePool

from mcos.storage import tables
from mcos.storage.blobs import BlobStore, open_blob_store

if TYPE_CHECKING:
    from mcos.storage.migrations import Upgrade

T = TypeVar("T")

# Any constant; identifies "the event log append lock" among PostgreSQL advisory locks.
EVENT_LOG_LOCK = 0x6D636F73
EVENTS_CHANNEL = "mcos_events"


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
                # Rows read past SQLAlchemy (storage.together) come back in UTC as its own do,
                # whatever the server's TimeZone.
                raw = conn.connection.dbapi_connection
                raw.adapters.register_loader("timestamptz", _UTCTimestamptzLoader)  # type: ignore[union-attr]
            yield conn

    def begin_batch(self, conn: Connection) -> int:
        """Open the batch's transaction, make the event log ours until it ends, and return
        its last sequence number.

        SQLite's ``BEGIN IMMEDIATE`` already holds the only write lock. On PostgreSQL the
        advisory transaction lock (``EVENT_LOG_LOCK``) serialises appends across replicas;
        ``max(seq)`` is a statement of its own, after the lock, so that in READ COMMITTED its
        snapshot sees every append committed before the lock was ours. One round trip: three
        statements in one simple query on a connection from :meth:`batch_connection`.
        """
        if self.is_sqlite:
            return self.last_seq(conn)
        with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(
                f"BEGIN; SELECT pg_advisory_xact_lock({EVENT_LOG_LOCK}); "
                "SELECT coalesce(max(seq), 0) FROM events"
            )
            cursor.nextset()
            cursor.nextset()
            row = cursor.fetchone()
        assert row is not None, "max(seq) answers one row"
        return int(row[0])

    def commit_batch(self, conn: Connection, last_seq: int | None) -> None:
        """Commit the batch begun by :meth:`begin_batch`; if it appended events (``last_seq``),
        tell every replica, on commit, that the log grew to ``last_seq``.

        On PostgreSQL ``NOTIFY`` and ``COMMIT`` go in one round trip; the notification names
        this replica and ``last_seq``, so no replica reads back what it already published, and
        this one leaves its own commits to its writer. On SQLite the caller's ``conn.begin()``
        block commits.
        """
        if self.is_sqlite:
            return
        notify = (
            f"NOTIFY {EVENTS_CHANNEL}, '{self.replica}:{int(last_seq)}'; "
            if last_seq is not None
            else ""
        )
        with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(notify + "COMMIT")

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


_INSERT_EVENTS_PG = (
    "INSERT INTO events (seq, ts, type, actor, subject, data, client_id) "
    "SELECT * FROM unnest(%b::bigint[], %b::timestamptz[], %b::text[], %b::text[], %b::text[], "
    "%b::jsonb[], %b::text[]) ON CONFLICT (actor, client_id) DO NOTHING"
)
_RECORDED_BEFORE_PG = (
    "SELECT actor, client_id FROM events WHERE (actor, client_id) IN "
    "(SELECT * FROM unnest(%b::text[], %b::text[])) AND seq < %s"
)


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert event rows (the columns of ``tables.events``) in one statement; return the
    (actor, client id) pairs it skipped because the log already holds them.

    On PostgreSQL, one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` of seven
    arrays (:func:`events_insert`), the JSON serialised by orjson: the server runs one statement
    instead of one per row, no per-row bind processing runs in Python, and the idempotency
    check is the insert. Only if it inserted fewer rows than given is the log asked which ids
    it already held (:func:`skipped_events`). On SQLite (where ``WriteContext`` checks ids
    first) a recorded id raises ``IntegrityError``.
    """
    if conn.dialect.name != "postgresql":
        conn.execute(tables.events.insert(), rows)
        return set()
    sql, columns = events_insert(rows)
    with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(sql, columns)
        inserted = cursor.rowcount
    return skipped_events(conn, rows, inserted)


def events_insert(rows: list[dict[str, Any]]) -> tuple[str, list[list[Any]]]:
    """PostgreSQL's insert of event rows, and its parameters: to run alone or with others.

    The arrays go in binary (``%b``): psycopg's text format escapes every element with a
    regular expression, which cost 17 µs per row against 2.4 here.
    """
    columns: list[list[Any]] = [[], [], [], [], [], [], []]
    seqs, stamps, types, actors, subjects, data, client_ids = columns
    for row in rows:
        seqs.append(row["seq"])
        stamps.append(row["ts"])
        types.append(row["type"])
        actors.append(row["actor"])
        subjects.append(row["subject"])
        data.append(_json_text(row["data"]))
        client_ids.append(row["client_id"])
    return _INSERT_EVENTS_PG, columns


def skipped_events(
    conn: Connection, rows: list[dict[str, Any]], inserted: int
) -> set[tuple[str, str]]:
    """After :func:`events_insert` inserted ``inserted`` of ``rows``: the (actor, client id)
    pairs it skipped, already in the log (or twice in ``rows``). One query, only if it
    skipped any."""
    if inserted == len(rows):
        return set()
    pairs = [(r["actor"], r["client_id"]) for r in rows if r["client_id"] is not None]
    found = {pair for pair, count in Counter(pairs).items() if count > 1}
    with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(
            _RECORDED_BEFORE_PG,
            ([actor for actor, _ in pairs], [client_id for _, client_id in pairs], rows[0]["seq"]),
        )
        found.update((actor, client_id) for actor, client_id in cursor.fetchall())
    if not found:
        raise RuntimeError("the event insert skipped rows, yet no client id was recorded")
    return found


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
