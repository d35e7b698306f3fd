"""Moving old events out of the log into a gzip JSON-lines file, so the database does not grow
without bound while what the operator sees stays the same.

What may go, and why the views stay right:

- Only events older than ``HISTORY_DAYS`` (the longest window any view or briefing looks back:
  dashboard series, briefing, value ledger, schedule misses) may go, so every window-based read
  finds the events it found before.
- Only the high-volume types whose effect already lives in state tables go
  (``ARCHIVED_TYPES``: heartbeats, allowed policy decisions, usage records, tool calls, messages,
  mail syncs, schedule firings). Task, approval, incident, committee, artifact and denial events
  stay: they are histories read event by event (a task's moves and comments, an agent's denials).
- Each agent's newest ``KEPT_HEARTBEATS`` heartbeats stay (its context-gauge history), and so
  does every event a notification delivery names.

Before anything is deleted an ``events.archived`` event records the horizon (``through_seq``):
a stream resumed from an older ``Last-Event-ID`` is told to resync instead of silently skipping
what was moved. Rows are written to the file (and fsynced) before they are deleted, a chunk at a
time: a crash leaves, at worst, a few events in both places, never in neither.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, select

from mcos.domain import events as ev
from mcos.errors import InvalidInput
from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.writer import WriteContext, write_once

E, ND = tables.events, tables.notify_deliveries
HISTORY_DAYS = 31
"""The longest look-back of any view (``hours`` up to 31 days): nothing younger is archived."""
KEPT_HEARTBEATS = 200
"""Heartbeats kept per agent whatever their age: the agent page's gauge history shows these."""
ARCHIVED_TYPES = frozenset(
    {
        ev.AGENT_HEARTBEAT,
        ev.POLICY_DECIDED,  # only "allow": denials are the agent page's history
        ev.USAGE_RECORDED,
        ev.AGENT_TOOL_CALLED,
        ev.MESSAGE_SENT,
        ev.MAIL_SYNCED,
        ev.SCHEDULE_FIRED,
    }
)
CHUNK = 5_000


@dataclass(frozen=True)
class ArchiveResult:
    before: datetime
    through_seq: int
    """The newest sequence number that may have been moved: the stream's resync horizon."""
    moved: int
    path: Path


def earliest_allowed(now: datetime) -> datetime:
    return now - timedelta(days=HISTORY_DAYS)


def archive_horizon(conn: Connection) -> int:
    """The newest sequence number an archive may have moved out of the log (0: none)."""
    row = conn.execute(
        select(E.c.data).where(E.c.type == ev.EVENTS_ARCHIVED).order_by(E.c.seq.desc()).limit(1)
    ).first()
    return int(row.data["through_seq"]) if row is not None else 0


def archive_events(db: Database, before: datetime, path: Path, *, actor: str) -> ArchiveResult:
    """Move the archivable events older than ``before`` to ``path`` (a new gzip JSON-lines
    file, one event per line, oldest first)."""
    now = datetime.now(UTC)
    if before > earliest_allowed(now):
        raise InvalidInput(
            f"--before {before.date()} is too recent: the dashboard and briefings look back "
            f"{HISTORY_DAYS} days, so archive only before {earliest_allowed(now).date()}",
            field="--before",
        )
    if path.exists():
        raise InvalidInput(f"{path} already exists; choose a new file", field="--to")
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = write_once(db, lambda ctx: _mark(ctx, before, path, actor))
    through = int(marker["through_seq"])
    moved = 0
    with path.open("xb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
        for chunk in _chunks(db, before, through):
            out.write(b"".join(orjson.dumps(row) + b"\n" for row in chunk))
            out.flush()
            raw.flush()
            os.fsync(raw.fileno())
            write_once(db, partial(_delete, seqs=[row["seq"] for row in chunk]))
            moved += len(chunk)
    return ArchiveResult(before, through, moved, path)


def _mark(ctx: WriteContext, before: datetime, path: Path, actor: str) -> dict[str, Any]:
    newest = ctx.conn.execute(select(func.max(E.c.seq)).where(E.c.ts < before)).scalar()
    data = {"before": before.isoformat(), "through_seq": int(newest or 0), "file": path.name}
    ctx.append(ev.EVENTS_ARCHIVED, actor, None, data)
    return data


def _delete(ctx: WriteContext, *, seqs: list[int]) -> None:
    ctx.conn.execute(delete(E).where(E.c.seq.in_(seqs)))


def _chunks(db: Database, before: datetime, through: int) -> Iterator[list[dict[str, Any]]]:
    """The events to move, a chunk at a time, oldest first."""
    with db.reading() as conn:
        kept_from = _newest_heartbeats(conn)
        delivered = {int(s) for (s,) in conn.execute(select(ND.c.event_seq).distinct())}
    after = 0
    while True:
        with db.reading() as conn:
            rows = conn.execute(
                select(E)
                .where(
                    E.c.seq > after,
                    E.c.seq <= through,
                    E.c.ts < before,
                    E.c.type.in_(sorted(ARCHIVED_TYPES)),
                )
                .order_by(E.c.seq)
                .limit(CHUNK)
            ).all()
        if not rows:
            return
        after = rows[-1].seq
        chunk = [
            {
                "seq": r.seq,
                "ts": r.ts.isoformat(),
                "type": r.type,
                "actor": r.actor,
                "subject": r.subject,
                "data": r.data,
                "client_id": r.client_id,
            }
            for r in rows
            if r.seq not in delivered
            and not (r.type == ev.POLICY_DECIDED and r.data.get("outcome") != "allow")
            and not (r.type == ev.AGENT_HEARTBEAT and r.seq >= kept_from.get(r.subject, 0))
        ]
        if chunk:
            yield chunk


def _newest_heartbeats(conn: Connection) -> dict[str | None, int]:
    """Per agent subject, the seq of its oldest kept heartbeat (the KEPT_HEARTBEATS-th newest);
    an agent with fewer keeps them all (absent here: its heartbeats are never moved)."""
    subjects = conn.execute(
        select(E.c.subject).where(E.c.type == ev.AGENT_HEARTBEAT).distinct()
    ).scalars()
    kept: dict[str | None, int] = {}
    for subject in list(subjects):
        oldest_kept = conn.execute(
            select(E.c.seq)
            .where(E.c.subject == subject, E.c.type == ev.AGENT_HEARTBEAT)
            .order_by(E.c.seq.desc())
            .offset(KEPT_HEARTBEATS - 1)
            .limit(1)
        ).scalar()
        if oldest_kept is not None:
            kept[subject] = int(oldest_kept)
    return kept
