"""The processes and databases of a benchmark run: servers on free ports, a PostgreSQL database
made for the run, and the database driver's own speed as a baseline."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [part.replace("{port}", str(self.port)) for part in command]
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, health: str, timeout: float = 60.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log.parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited at start:\n{self.log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + health, timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise SystemExit(
            f"{self.name} did not answer within {timeout:g} s:\n{self.log.read_text()}"
        )

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(how)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@contextlib.contextmanager
def database(url: str | None, folder: Path) -> Iterator[str]:
    """The SQLite file of the fleet, or a PostgreSQL database made for this run and dropped."""
    if url is None:
        yield f"sqlite+pysqlite:///{folder / 'fleet' / 'mcos.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit("--database-url must be a PostgreSQL URL (SQLite is the default)")
    name = parsed.database or f"mcos_bench_{uuid.uuid4().hex[:10]}"
    admin = parsed.set(drivername="postgresql", database="postgres")
    admin_url = admin.render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found:
            raise SystemExit(
                f"database {name!r} already exists; the benchmark creates its database and "
                "drops it afterwards, so name one that does not exist (or none, for a random one)"
            )
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


EVENTS_DDL = [
    "CREATE TABLE bench_events (seq BIGINT PRIMARY KEY, ts TIMESTAMP NOT NULL, "
    "type VARCHAR(64) NOT NULL, actor VARCHAR(120) NOT NULL, subject VARCHAR(64), "
    "data TEXT NOT NULL, client_id VARCHAR(100), UNIQUE (actor, client_id))",
    "CREATE INDEX bench_events_subject ON bench_events (subject, seq)",
    "CREATE INDEX bench_events_type ON bench_events (type, seq)",
]


def database_baseline(url: str, folder: Path, batch: int, seconds: float) -> dict[str, Any]:
    """Rows/s of the database driver alone: ``batch`` event-shaped rows per commit."""
    insert = "INSERT INTO bench_events VALUES (?, ?, ?, ?, ?, ?, ?)"
    data = json.dumps({"tool": "web.search", "ms": 120, "i": 0})
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = seq = commits = 0
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(folder / "baseline.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # as the control plane's default
        cleanup = None
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(plain, autocommit=True)
        insert = insert.replace("?", "%s")
        conn.execute("DROP TABLE IF EXISTS bench_events")
        cleanup = "DROP TABLE bench_events"
    for ddl in EVENTS_DDL:
        conn.execute(ddl)
    end = time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < end:
        chunk = [
            (seq + i, now, "bench.tool_called", "agent:donna", "bench", data, f"b-{seq + i}")
            for i in range(1, batch + 1)
        ]
        seq += batch
        if url.startswith("sqlite"):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert, chunk)
            conn.execute("COMMIT")
        else:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(insert, chunk)
        rows += batch
        commits += 1
    elapsed = time.monotonic() - started
    if cleanup:
        conn.execute(cleanup)
    conn.close()
    return {"rows_per_s": round(rows / elapsed), "rows_per_commit": batch, "commits": commits}
