"""Notify: the writes behind the dispatcher (``mcos.notify.dispatcher``) and its reads.

``collect`` turns the events after each channel's cursor into deliveries — one row per channel
and event (unique ``(channel, event_seq)``) — and moves the cursors in the same unit. ``claim``
takes due rows with a conditional UPDATE (status and attempts as read), so two replicas never
send one row; a claim is a lease, and a row whose sender died is claimed again after it.
``record_sent`` / ``record_failure`` close an attempt: ``notify.sent``, or ``notify.failed`` and
a retry with capped exponential backoff; the channel is marked failing on a failure and
``notify.recovered`` when a send works again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, insert, select, update

from mcos.contract.requests import isoformat
from mcos.contract.vocab import ORCHESTRATOR
from mcos.domain import events as ev
from mcos.fleet.notify import AnyChannel
from mcos.fleet.schema import Fleet
from mcos.notify.content import Notice, kind_of, notice
from mcos.services.access import SYSTEM
from mcos.storage import tables
from mcos.storage.writer import WriteContext

NC, ND, E = tables.notify_channels, tables.notify_deliveries, tables.events
INC, AP, C, T = tables.incidents, tables.approvals, tables.committees, tables.tasks

SOURCE_TYPES = frozenset(
    {
        ev.INCIDENT_RAISED,
        ev.APPROVAL_REQUESTED,
        ev.COMMITTEE_OPENED,
        ev.COMMITTEE_DECIDED,
        ev.SUPERVISION_ESCALATED,
        ev.BUDGET_EXCEEDED,
        ev.TASK_MOVED,
        ev.MAIL_SEND_FAILED,
    }
)
"""The event types a channel may carry; the dispatcher wakes on these."""
SCAN_WINDOW = 5000
"""Sequence numbers looked at per ``collect``: a long backlog is worked through in steps."""
CLAIM_LIMIT = 10
"""Rows claimed per channel per pass."""
GIVE_UP_AFTER = timedelta(hours=24)
"""A delivery still failing this long after it was made is given up (``failed``), visibly."""
PENDING, HELD, SENDING, SENT, FAILED, SKIPPED = (
    "pending",
    "held",
    "sending",
    "sent",
    "failed",
    "skipped",
)
OPEN = (PENDING, HELD, SENDING)


@dataclass(frozen=True)
class Retry:
    """How failed sends are retried: ``base * 2**(attempt-1)``, at most ``cap``."""

    base: timedelta
    cap: timedelta

    def after(self, attempts: int) -> timedelta:
        doubled: timedelta = self.base * (2 ** max(0, min(attempts - 1, 30)))
        return min(self.cap, doubled)


def _channels(fleet: Fleet) -> dict[str, AnyChannel]:
    return {c.name: c for c in fleet.notify}


def register_channels(ctx: WriteContext, fleet: Fleet) -> None:
    """A channel new to the database starts at the log's end: it carries what happens next."""
    known = set(ctx.conn.execute(select(NC.c.name)).scalars())
    for channel in fleet.notify:
        if channel.name not in known:
            ctx.conn.execute(insert(NC).values(name=channel.name, cursor_seq=ctx.log_end(), sent=0))


def _briefing_text(conn: Connection, fleet: Fleet, task_id: int) -> str | None:
    """The orchestrator's last comment on the briefing task: the written briefing."""
    for row in conn.execute(
        select(E.c.actor, E.c.data)
        .where(E.c.type == ev.TASK_COMMENTED, E.c.subject == f"task:{task_id}")
        .order_by(E.c.seq.desc())
        .limit(20)
    ):
        config = fleet.agent(str(row.actor).removeprefix("agent:"))
        if row.actor.startswith("agent:") and config is not None and config.role == ORCHESTRATOR:
            return str(row.data.get("body") or "") or None
    return None


def _notice_of(
    conn: Connection, fleet: Fleet, row: Any, link_base: str, zone: ZoneInfo
) -> Notice | None:
    data = row.data or {}
    task_kind = None
    if row.type == ev.TASK_MOVED:
        task_kind = conn.execute(select(T.c.kind).where(T.c.id == data.get("task"))).scalar()
    kind = kind_of(row.type, data, task_kind)
    if kind is None:
        return None
    text = _briefing_text(conn, fleet, data["task"]) if kind == "briefing" else None
    return notice(
        kind,
        row.type,
        row.ts,
        data,
        fleet_name=fleet.fleet.name,
        zone=zone,
        link_base=link_base,
        briefing_text=text,
    )


def collect(ctx: WriteContext, fleet: Fleet, link_base: str) -> int:
    """Make the deliveries for events after each channel's cursor; returns how many."""
    channels = _channels(fleet)
    if not channels:
        return 0
    register_channels(ctx, fleet)
    cursors = {
        r.name: r.cursor_seq
        for r in ctx.conn.execute(select(NC).where(NC.c.name.in_(list(channels))))
    }
    low = min(cursors.values())
    high = min(ctx.log_end(), low + SCAN_WINDOW)
    if high <= low:
        return 0
    zone = ZoneInfo(fleet.fleet.timezone)
    made = 0
    rows = ctx.conn.execute(
        select(E)
        .where(E.c.seq > low, E.c.seq <= high, E.c.type.in_(sorted(SOURCE_TYPES)))
        .order_by(E.c.seq)
    ).all()
    for row in rows:
        found = _notice_of(ctx.conn, fleet, row, link_base, zone)
        if found is None:
            continue
        for name, channel in channels.items():
            if row.seq <= cursors[name] or found.kind not in channel.carries:
                continue
            already = ctx.conn.execute(
                select(ND.c.id).where(ND.c.channel == name, ND.c.event_seq == row.seq)
            ).first()
            if already is not None:  # the unique key's backstop: never two rows for one event
                continue
            quiet = channel.quiet()
            until = quiet.held_until(ctx.now, zone) if quiet and found.kind != "p0" else None
            ctx.conn.execute(
                insert(ND).values(
                    channel=name,
                    event_seq=row.seq,
                    kind=found.kind,
                    subject=found.subject,
                    body=found.body,
                    link=found.link,
                    status=PENDING if until is None else HELD,
                    attempts=0,
                    next_attempt_at=ctx.now if until is None else until,
                    created_at=ctx.now,
                )
            )
            made += 1
    ctx.conn.execute(
        update(NC)
        .where(NC.c.name.in_(list(channels)), NC.c.cursor_seq < high)
        .values(cursor_seq=high)
    )
    return made


def _still_waiting(conn: Connection, kind: str, subject: str | None, now: datetime) -> bool:
    """A P0, a P1 or an approval decided before its notification went out is not sent: the
    operator would be woken for something already settled."""
    ref, _, number = (subject or "").partition(":")
    if not number.isdigit():
        return True
    if kind in ("p0", "p1") and ref == "incident":
        status = conn.execute(select(INC.c.status).where(INC.c.id == int(number))).scalar()
        return status == "unconfirmed"
    if kind == "approvals" and ref == "approval":
        row = conn.execute(select(AP.c.status, AP.c.expires_at).where(AP.c.id == int(number)))
        found = row.first()
        return found is not None and found.status == "pending" and found.expires_at > now
    return True


def claim(ctx: WriteContext, fleet: Fleet, lease: timedelta) -> list[dict[str, Any]]:
    """Claim the deliveries due now, at most :data:`CLAIM_LIMIT` per channel.

    Each is taken with a conditional UPDATE on the status and attempts it was read with: of
    two replicas, one wins. A claim lasts ``lease``; a row still ``sending`` after it (its
    sender died) is due again.
    """
    claimed: list[dict[str, Any]] = []
    for name in _channels(fleet):
        rows = ctx.conn.execute(
            select(ND, E.c.subject.label("event_subject"), E.c.type.label("event_type"))
            .join(E, E.c.seq == ND.c.event_seq)
            .where(ND.c.channel == name, ND.c.status.in_(OPEN), ND.c.next_attempt_at <= ctx.now)
            .order_by(ND.c.next_attempt_at, ND.c.id)
            .limit(CLAIM_LIMIT)
        ).all()
        for row in rows:
            if not _still_waiting(ctx.conn, row.kind, row.event_subject, ctx.now):
                ctx.conn.execute(
                    update(ND)
                    .where(ND.c.id == row.id, ND.c.status == row.status)
                    .values(status=SKIPPED, last_error="decided before it was sent")
                )
                continue
            won = ctx.conn.execute(
                update(ND)
                .where(ND.c.id == row.id, ND.c.status == row.status, ND.c.attempts == row.attempts)
                .values(status=SENDING, attempts=row.attempts + 1, next_attempt_at=ctx.now + lease)
            )
            if won.rowcount == 1:
                claimed.append(
                    {
                        "id": row.id,
                        "channel": name,
                        "event_seq": row.event_seq,
                        "event_type": row.event_type,
                        "kind": row.kind,
                        "subject": row.subject,
                        "body": row.body,
                        "link": row.link,
                        "attempts": row.attempts + 1,
                    }
                )
    return claimed


def _channel_row(ctx: WriteContext, name: str) -> Any:
    row = ctx.conn.execute(select(NC).where(NC.c.name == name)).first()
    if row is None:
        ctx.conn.execute(insert(NC).values(name=name, cursor_seq=ctx.log_end(), sent=0))
        row = ctx.conn.execute(select(NC).where(NC.c.name == name)).one()
    return row


def _works(ctx: WriteContext, name: str, *, test: bool) -> None:
    channel = _channel_row(ctx, name)
    values: dict[str, Any] = {"last_sent_at": ctx.now, "failing_since": None, "error": None}
    if not test:
        values["sent"] = channel.sent + 1
    ctx.conn.execute(update(NC).where(NC.c.name == name).values(**values))
    if channel.failing_since is not None:
        ctx.append(
            ev.NOTIFY_RECOVERED,
            SYSTEM,
            f"notify:{name}",
            {
                "channel": name,
                "failing_since": isoformat(channel.failing_since),
                "failed_for_seconds": round((ctx.now - channel.failing_since).total_seconds(), 3),
            },
        )


def _fails(ctx: WriteContext, name: str, error: str) -> str | None:
    channel = _channel_row(ctx, name)
    since = channel.failing_since or ctx.now
    ctx.conn.execute(update(NC).where(NC.c.name == name).values(failing_since=since, error=error))
    return isoformat(since)


def _delivery(row: Any) -> dict[str, Any]:
    """What a ``notify.sent``/``notify.failed`` event says of its delivery."""
    return {
        "channel": row.channel,
        "delivery": row.id,
        "event_seq": row.event_seq,
        "kind": row.kind,
        "title": row.subject,
        "attempts": row.attempts,
    }


def record_sent(ctx: WriteContext, delivery_id: int) -> None:
    row = ctx.conn.execute(select(ND).where(ND.c.id == delivery_id)).one()
    ctx.conn.execute(
        update(ND)
        .where(ND.c.id == delivery_id)
        .values(status=SENT, sent_at=ctx.now, last_error=None)
    )
    _works(ctx, row.channel, test=False)
    ctx.append(
        ev.NOTIFY_SENT,
        SYSTEM,
        f"notify:{row.channel}",
        _delivery(row),
    )


def record_failure(ctx: WriteContext, delivery_id: int, error: str, retry: Retry) -> None:
    row = ctx.conn.execute(select(ND).where(ND.c.id == delivery_id)).one()
    give_up = ctx.now - row.created_at >= GIVE_UP_AFTER
    retry_at = None if give_up else ctx.now + retry.after(row.attempts)
    ctx.conn.execute(
        update(ND)
        .where(ND.c.id == delivery_id)
        .values(
            status=FAILED if give_up else PENDING,
            last_error=error,
            next_attempt_at=retry_at or ctx.now,
        )
    )
    since = _fails(ctx, row.channel, error)
    ctx.append(
        ev.NOTIFY_FAILED,
        SYSTEM,
        f"notify:{row.channel}",
        _delivery(row)
        | {
            "error": error,
            "retry_at": isoformat(retry_at),
            "gave_up": give_up,
            "failing_since": since,
        },
    )


def record_test(ctx: WriteContext, name: str, actor: str, error: str | None) -> dict[str, Any]:
    """An operator's test send: ``notify.sent``/``notify.failed`` with ``test``; it marks the
    channel failing or recovered like any send, and counts in no delivery."""
    if error is None:
        _works(ctx, name, test=True)
        ctx.append(ev.NOTIFY_SENT, actor, f"notify:{name}", {"channel": name, "test": True})
        return {"channel": name, "ok": True, "error": None}
    since = _fails(ctx, name, error)
    ctx.append(
        ev.NOTIFY_FAILED,
        actor,
        f"notify:{name}",
        {"channel": name, "test": True, "error": error, "failing_since": since},
    )
    return {"channel": name, "ok": False, "error": error}


# -- reads ---------------------------------------------------------------------------------


def next_due(conn: Connection, fleet: Fleet) -> datetime | None:
    """When the earliest open delivery of the fleet's channels falls due."""
    names = list(_channels(fleet))
    if not names:
        return None
    found: datetime | None = conn.execute(
        select(func.min(ND.c.next_attempt_at)).where(
            and_(ND.c.channel.in_(names), ND.c.status.in_(OPEN))
        )
    ).scalar()
    return found


def _delivery_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "event_seq": row.event_seq,
        "kind": row.kind,
        "subject": row.subject,
        "link": row.link,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": isoformat(row.next_attempt_at) if row.status in OPEN else None,
        "last_error": row.last_error,
        "created_at": isoformat(row.created_at),
        "sent_at": isoformat(row.sent_at),
    }


def channel_states(conn: Connection, fleet: Fleet) -> list[dict[str, Any]]:
    """Each channel of the fleet file with its health: what the dashboard's banner shows."""
    rows = {r.name: r for r in conn.execute(select(NC))}
    waiting: dict[str, int] = dict(
        conn.execute(
            select(ND.c.channel, func.count()).where(ND.c.status.in_(OPEN)).group_by(ND.c.channel)
        ).all()
    )
    out = []
    for channel in fleet.notify:
        row = rows.get(channel.name)
        out.append(
            {
                "name": channel.name,
                "kind": channel.kind,
                "carries": list(channel.carries),
                "quiet_hours": channel.quiet_hours,
                "status": "failing" if row is not None and row.failing_since else "ok",
                "failing_since": isoformat(row.failing_since) if row is not None else None,
                "error": row.error if row is not None else None,
                "sent": row.sent if row is not None else 0,
                "last_sent_at": isoformat(row.last_sent_at) if row is not None else None,
                "waiting": int(waiting.get(channel.name, 0)),
            }
        )
    return out


def notify_overview(conn: Connection, fleet: Fleet, limit: int) -> dict[str, Any]:
    """``GET /api/v1/notify``: the channels, and the most recent deliveries."""
    recent = conn.execute(select(ND).order_by(ND.c.id.desc()).limit(limit)).all()
    return {
        "channels": channel_states(conn, fleet),
        "deliveries": [_delivery_view(r) for r in recent],
    }
