"""Heartbeats: the hottest write. Recorded in bulk, a handful of statements per batch.

The writer gathers the heartbeats that arrive while it commits and hands them here together
(``Writer.submit_bulk``), so a thousand agents reporting at once cost a few queries, not a few
thousand. Statements are built once, at import.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update

from mcos.contract.requests import HeartbeatIn
from mcos.contract.vocab import MessageKind
from mcos.domain import events as ev
from mcos.domain.gauge import ContextGauge
from mcos.domain.kanban import TaskStatus
from mcos.domain.liveness import derive_liveness
from mcos.errors import Conflict, InvalidInput, NotFound
from mcos.fleet.schema import Fleet
from mcos.policy.local import policy_version
from mcos.services.access import SYSTEM
from mcos.services.incidents import FOR_AGENTS, for_agents
from mcos.services.messages import message_view
from mcos.services.tasks import task_summary
from mcos.storage import tables
from mcos.storage.together import Among, PipelineSelect, Statement, run_together
from mcos.storage.writer import WriteContext

A, E, T, M, G = tables.agents, tables.events, tables.tasks, tables.messages, tables.grants
WAITING_STATUSES = (TaskStatus.ASSIGNED.value, TaskStatus.IN_PROGRESS.value)
TASKS_PER_ANSWER = 50
MESSAGES_PER_ANSWER = 100

# Read in one round trip on PostgreSQL (storage.together): the agents' state with the tasks
# waiting for them, and after the loop the rows' update with the answer's reads.
_AGENT_STATE = PipelineSelect.build(
    lambda among: (
        select(
            A.c.name,
            A.c.active,
            A.c.liveness,
            A.c.message_cursor,
            A.c.context_window,
            A.c.flush_line,
            A.c.channels,
            A.c.incident_cursor,
            A.c.cooldown_until,
            A.c.paused,
        )
        .where(among(A.c.name, "names"))
        # Locked until the commit, in name order, so that a replica's batch beside ours changes
        # them before our read or after our write, never between (storage/README.md).
        .order_by(A.c.name)
        .with_for_update()
    )
)
_TASK_IDS = select(T.c.id, T.c.assignee).where(T.c.id.in_(bindparam("ids", expanding=True)))
_RECORD = (
    update(A)
    .where(A.c.name == bindparam("b_name"))
    .values(
        reported_status=bindparam("b_status"),
        last_heartbeat_at=bindparam("b_at"),
        context_tokens=bindparam("b_tokens"),
        current_task_id=bindparam("b_task"),
        note=bindparam("b_note"),
        liveness=bindparam("b_liveness"),
        message_cursor=bindparam("b_cursor"),
        incident_cursor=bindparam("b_incidents"),
        heartbeats=A.c.heartbeats + bindparam("b_count"),
        updated_at=bindparam("b_at"),
    )
)
# The same update on PostgreSQL, every agent of the batch in one statement: an executemany of
# _RECORD is one statement per agent for the server to parse, plan and run (and for psycopg to
# send), a fifth of the writer's time under heartbeat load. The arrays go in binary (``%b``),
# in the order of _RECORD_COLUMNS.
_RECORD_COLUMNS = (
    "b_name",
    "b_status",
    "b_tokens",
    "b_task",
    "b_note",
    "b_liveness",
    "b_cursor",
    "b_incidents",
    "b_count",
)
_RECORD_PG = (
    "UPDATE agents SET reported_status = u.status, last_heartbeat_at = %b, "
    "context_tokens = u.tokens, current_task_id = u.task, note = u.note, "
    "liveness = u.liveness, message_cursor = u.message_cursor, "
    "incident_cursor = u.incident_cursor, heartbeats = agents.heartbeats + u.count, "
    "updated_at = %b "
    "FROM unnest(%b::text[], %b::text[], %b::integer[], %b::integer[], %b::text[], "
    "%b::text[], %b::bigint[], %b::integer[], %b::bigint[]) "
    "AS u(name, status, tokens, task, note, liveness, message_cursor, incident_cursor, count) "
    "WHERE agents.name = u.name"
)
_LIVE_GRANTS = PipelineSelect.build(
    lambda among: (
        select(G.c.agent, G.c.capability, G.c.expires_at)
        .where(among(G.c.agent, "names"), G.c.expires_at > bindparam("now"))
        .order_by(G.c.id)
    )
)
_WAITING_TASKS = PipelineSelect.build(
    lambda among: (
        select(T)
        .where(among(T.c.assignee, "names"), among(T.c.status, "statuses"))
        .order_by(T.c.id)
    )
)


def _messages(among: Among, *, channels: bool) -> Any:
    """Messages after the lowest cursor addressed to the agents, the fleet, or (``channels``)
    their channels. Ordered by id, so whatever the cap leaves out comes after what is
    delivered: acking the highest id delivered never skips a message."""
    audience = [among(M.c.recipient, "names"), M.c.scope == "fleet"]
    if channels:
        audience.append(among(M.c.channel, "channels"))
    return (
        select(M)
        .where(M.c.id > bindparam("since"), or_(*audience))
        .order_by(M.c.id)
        .limit(bindparam("limit"))
    )


_MESSAGES = PipelineSelect.build(partial(_messages, channels=False))
_MESSAGES_OR_CHANNELS = PipelineSelect.build(partial(_messages, channels=True))


@dataclass(frozen=True)
class HeartbeatItem:
    agent: str
    heartbeat: HeartbeatIn
    actor: str
    """Who sent it: ``agent:NAME`` or ``operator:LABEL``; idempotency ids are per actor."""
    answer: bool = True
    """Whether to return the work waiting; without, only the agent and the event's seq."""
    field: str | None = None
    """Where the item sits in the request (``heartbeats[2]``), for error fields."""


def record_heartbeats(
    ctx: WriteContext, fleet: Fleet, items: list[HeartbeatItem]
) -> list[dict[str, Any]]:
    """Record heartbeats; return, for each, the work waiting for its agent (or ``None``)."""
    conn = ctx.conn
    names = sorted({item.agent for item in items})
    wanted = sorted({item.agent for item in items if item.answer})
    # The work waiting for each agent, read with their state: an agent's current task is most
    # often one of them, and then needs no query of its own to check it is the agent's.
    reads: list[Statement] = [(_AGENT_STATE, {"names": names})]
    if wanted:
        reads.append((_WAITING_TASKS, {"names": wanted, "statuses": list(WAITING_STATUSES)}))
    agent_rows, *task_rows = run_together(conn, reads)
    state = {row.name: row._asdict() for row in agent_rows.rows}
    seen = ctx.recorded_client_ids(
        [(item.actor, item.heartbeat.id) for item in items if item.heartbeat.id]
    )
    tasks, owned = _waiting_tasks(task_rows[0].rows) if wanted else ({}, set())
    task_ids = sorted(
        {
            i.heartbeat.current_task
            for i in items
            if i.heartbeat.current_task and (i.agent, i.heartbeat.current_task) not in owned
        }
    )
    assignees = {task: agent for agent, task in owned}
    if task_ids:
        assignees |= {r.id: r.assignee for r in conn.execute(_TASK_IDS, {"ids": task_ids})}
    # One row update per agent, its last heartbeat's: on PostgreSQL each UPDATE writes a new
    # version of the whole row, and an agent heartbeating three times in a batch paid three.
    updates: dict[str, dict[str, Any]] = {}
    recorded: list[tuple[HeartbeatItem, int, dict[str, Any] | None, str]] = []
    for item in items:
        prefix = f"{item.field}." if item.field else ""
        heartbeat = item.heartbeat
        if heartbeat.id is not None:
            if (item.actor, heartbeat.id) in seen:
                raise Conflict(
                    f"heartbeat id {heartbeat.id!r} was already recorded",
                    field=f"{prefix}id",
                    code="duplicate_id",
                )
            seen.add((item.actor, heartbeat.id))
        row = state.get(item.agent)
        if row is None or not row["active"]:
            message = f"no agent named {item.agent!r} in the fleet"
            # In a URL it is a missing resource; in a request body, an invalid field.
            if item.field:
                raise InvalidInput(message, field=f"{prefix}agent")
            raise NotFound(message)
        current = heartbeat.current_task
        if current is not None and current not in assignees:
            raise InvalidInput(f"no task #{current}", field=f"{prefix}current_task")
        if current is not None and assignees[current] != item.agent:
            raise InvalidInput(
                f"task #{current} is assigned to {assignees[current] or 'nobody'}, not "
                f"{item.agent!r}: an agent's current task is one of its own",
                field=f"{prefix}current_task",
            )
        config = fleet.agent(item.agent)
        thresholds = fleet.liveness_for(config) if config else fleet.liveness
        liveness = derive_liveness(
            now=ctx.now,
            last_heartbeat_at=ctx.now,
            reported=heartbeat.status.value,
            stalled_after_seconds=thresholds.stalled_after_seconds,
            offline_after_seconds=thresholds.offline_after_seconds,
            cooldown_until=row["cooldown_until"],
            suspended=row["paused"],
        ).value
        ack = heartbeat.ack_messages_through
        if ack is not None and ack > row["message_cursor"]:
            row["message_cursor"] = ack
        acked = heartbeat.ack_incidents_through
        if acked is not None and acked > row["incident_cursor"]:
            row["incident_cursor"] = acked
        if liveness != row["liveness"]:
            ctx.append(
                ev.AGENT_LIVENESS_CHANGED,
                SYSTEM,
                f"agent:{item.agent}",
                {
                    "agent": item.agent,
                    "from": row["liveness"],
                    "to": liveness,
                    "reason": "heartbeat",
                },
            )
            row["liveness"] = liveness
        window = heartbeat.context_window or row["context_window"]
        gauge = None
        if heartbeat.context_tokens is not None:
            flush_line = window - (row["context_window"] - row["flush_line"])
            gauge = ContextGauge(heartbeat.context_tokens, window, flush_line).as_dict()
        data = {
            "agent": item.agent,
            "status": heartbeat.status.value,
            "liveness": liveness,
            "gauge": gauge,
            "current_task": heartbeat.current_task,
            "note": heartbeat.note,
        }
        if heartbeat.outbox_pending is not None:
            data["outbox_pending"] = heartbeat.outbox_pending
        event = ctx.append(
            ev.AGENT_HEARTBEAT, item.actor, f"agent:{item.agent}", data, client_id=heartbeat.id
        )
        counted = updates.get(item.agent)
        updates[item.agent] = {
            "b_count": counted["b_count"] + 1 if counted else 1,
            "b_name": item.agent,
            "b_status": heartbeat.status.value,
            "b_at": ctx.now,
            "b_tokens": heartbeat.context_tokens,
            "b_task": heartbeat.current_task,
            "b_note": heartbeat.note,
            "b_liveness": liveness,
            "b_cursor": row["message_cursor"],
            "b_incidents": row["incident_cursor"],
        }
        recorded.append((item, event.seq, gauge, liveness))
    # The rows' update and the answer's reads in one round trip on PostgreSQL (the events go
    # in at the commit): the reads see the cursors just acknowledged.
    statements = _record(conn, ctx.now, list(updates.values()))
    if wanted:
        statements.extend(_answer_reads(state, wanted, ctx.now))
    answered = ctx.flush_with(statements)
    if statements and isinstance(statements[0][0], str):
        written, *answered = answered
        if written.rowcount != len(updates):
            raise RuntimeError(f"updated {written.rowcount} agent rows of {len(updates)}")
    inbox: dict[str, list[dict[str, Any]]] = {}
    incidents: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    grants: dict[str, dict[str, str]] = defaultdict(dict)
    if wanted:
        messages, found, live_grants = answered
        inbox = _pending_messages(messages.rows, {name: state[name] for name in wanted})
        # Only confirmed incidents that reach the agent, and those waiting for its
        # confirmation: an unconfirmed one reaches nobody else's heartbeat.
        cursors = {name: state[name]["incident_cursor"] for name in wanted}
        incidents = for_agents(conn, fleet, cursors, rows=found.rows)
        for grant in live_grants.rows:
            # The latest expiry of a capability restored twice.
            grants[grant.agent][grant.capability] = max(
                grants[grant.agent].get(grant.capability, ""), grant.expires_at.isoformat()
            )
    answers: list[dict[str, Any]] = []
    for item, seq, gauge, liveness in recorded:
        if not item.answer:
            answers.append(ctx.seq_of(seq, {"agent": item.agent}))
            continue
        pending = inbox[item.agent]
        answers.append(
            {
                "agent": item.agent,
                "seq": seq,
                "liveness": liveness,
                "gauge": gauge,
                "tasks": tasks[item.agent],
                "directives": [m for m in pending if m["kind"] == MessageKind.DIRECTIVE],
                "messages": [m for m in pending if m["kind"] != MessageKind.DIRECTIVE],
                "message_cursor": state[item.agent]["message_cursor"],
                "incidents": incidents[item.agent][0],
                "confirmations": incidents[item.agent][1],
                "incident_cursor": state[item.agent]["incident_cursor"],
                "grants": [
                    {"capability": capability, "expires_at": until}
                    for capability, until in sorted(grants[item.agent].items())
                ],
                "policy_version": _policy_version(fleet, item.agent),
            }
        )
        ctx.seq_of(seq, answers[-1])
    return answers


def _record(conn: Connection, now: datetime, updates: list[dict[str, Any]]) -> list[Statement]:
    """Write each agent's row (its last heartbeat of the batch). On PostgreSQL, answer the one
    statement that does it, for the caller to run with its reads."""
    if conn.dialect.name != "postgresql":
        conn.execute(_RECORD, updates)
        return []
    columns = [[update[key] for update in updates] for key in _RECORD_COLUMNS]
    return [(_RECORD_PG, [now, now, *columns])]


def _answer_reads(
    state: dict[str, dict[str, Any]], wanted: list[str], now: datetime
) -> list[Statement]:
    """The messages, incidents and live grants of the agents to answer, after their cursors."""
    channels = sorted({c for name in wanted for c in state[name]["channels"]})
    messages = {
        "since": min(state[name]["message_cursor"] for name in wanted),
        "names": wanted,
        "limit": MESSAGES_PER_ANSWER * len(wanted),
    }
    if channels:
        messages["channels"] = channels
    since = min(state[name]["incident_cursor"] for name in wanted)
    return [
        (_MESSAGES_OR_CHANNELS if channels else _MESSAGES, messages),
        (FOR_AGENTS, {"since": since}),
        (_LIVE_GRANTS, {"names": wanted, "now": now}),
    ]


def _policy_version(fleet: Fleet, name: str) -> str | None:
    agent = fleet.agent(name)
    return policy_version(fleet, agent) if agent is not None else None


def _waiting_tasks(
    rows: list[Any],
) -> tuple[dict[str, list[dict[str, Any]]], set[tuple[str, int]]]:
    """Per agent, its first tasks waiting (assigned or in progress); and every waiting task as
    (assignee, id), past the cap too."""
    waiting: dict[str, list[dict[str, Any]]] = defaultdict(list)
    owned: set[tuple[str, int]] = set()
    for row in rows:
        owned.add((row.assignee, row.id))
        if len(waiting[row.assignee]) < TASKS_PER_ANSWER:
            # With its description: the agent needs it to start, and asking costs a round trip.
            waiting[row.assignee].append(task_summary(row) | {"description": row.description})
    return waiting, owned


def _pending_messages(
    rows: list[Any], agents: dict[str, dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Messages after each agent's cursor addressed to it, its channels, or the fleet."""
    pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        for name, agent in agents.items():
            if (
                row.id > agent["message_cursor"]
                and row.sender != f"agent:{name}"
                and (
                    row.recipient == name
                    or row.scope == "fleet"
                    or (row.channel is not None and row.channel in agent["channels"])
                )
                and len(pending[name]) < MESSAGES_PER_ANSWER
            ):
                pending[name].append(message_view(row))
    return pending


def record_heartbeat(ctx: WriteContext, fleet: Fleet, item: HeartbeatItem) -> dict[str, Any] | None:
    """One heartbeat on its own (a bulk of one)."""
    return record_heartbeats(ctx, fleet, [item])[0]
