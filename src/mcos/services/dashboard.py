"""What the dashboard reads: one snapshot of the fleet, spend over time, and one agent's page.

The snapshot is read in one transaction together with the newest sequence number, so a page
that follows the stream from ``last_seq`` misses nothing and applies nothing twice (every
change an event carries sets state; applying it again changes nothing).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from mcos.contract.requests import isoformat
from mcos.contract.vocab import DECIDING_ROLES, HUMAN
from mcos.domain import events as ev
from mcos.domain.approvals import human_refusal, party_of
from mcos.domain.kanban import COLUMNS, TRANSITIONS, TaskStatus
from mcos.domain.liveness import Liveness
from mcos.fleet.schema import Fleet
from mcos.services import budgets
from mcos.services.agents import agent_view, get_agent, mailbox_warnings
from mcos.services.approvals import approval_view
from mcos.services.artifacts import count_by_task
from mcos.services.committees import open_committees
from mcos.services.incidents import incident_view
from mcos.services.messages import list_messages
from mcos.services.notify import channel_states
from mcos.services.supervision import open_escalations
from mcos.services.tasks import list_tasks, task_summary
from mcos.services.value import value_summary
from mcos.storage import tables

A, T, U, E = tables.agents, tables.tasks, tables.usage, tables.events
AP, INC, N = tables.approvals, tables.incidents, tables.memory_notes
RECENT_DONE = 200
"""Done cards the board shows; the column's count still covers them all."""
RECENT_MESSAGES = 300
RECENT_SCENES = 40
MISSED = (Liveness.STALLED.value, Liveness.OFFLINE.value)


def _money(value: Decimal | float) -> float:
    return round(float(value), 6)


def _spend(used: dict[str, Any], budget: dict[str, Any]) -> dict[str, Any]:
    return {
        "today_usd": _money(used["daily_usd"]),
        "month_usd": _money(used["monthly_usd"]),
        "daily_budget_usd": budget.get("daily_usd"),
        "monthly_budget_usd": budget.get("monthly_usd"),
    }


def _agents(conn: Connection, fleet: Fleet, now: datetime) -> list[dict[str, Any]]:
    rows = conn.execute(select(A).where(A.c.active.is_(True)).order_by(A.c.name)).all()
    used = budgets.spent_by_agent(conn, fleet, now, [r.name for r in rows])
    mailboxes = mailbox_warnings(conn, fleet)
    return [
        agent_view(r, fleet, now, mailboxes.get(r.name, ()))
        | {"spend": _spend(used[r.name], budgets.budget_of(fleet, r))}
        for r in rows
    ]


def _tasks(conn: Connection) -> tuple[list[dict[str, Any]], dict[str, int]]:
    open_rows = conn.execute(select(T).where(T.c.status != TaskStatus.DONE.value).order_by(T.c.id))
    done_rows = conn.execute(
        select(T)
        .where(T.c.status == TaskStatus.DONE.value)
        .order_by(T.c.updated_at.desc(), T.c.id.desc())
        .limit(RECENT_DONE)
    )
    items = [task_summary(r) for r in open_rows]
    items += sorted((task_summary(r) for r in done_rows), key=lambda t: t["id"])
    files = count_by_task(conn)
    for item in items:
        item["artifacts"] = files.get(item["id"], 0)  # the card's attachment count
    counts = dict.fromkeys((c.value for c in COLUMNS), 0)
    for status, count in conn.execute(select(T.c.status, func.count()).group_by(T.c.status)):
        counts[status] = int(count)
    return items, counts


def _waiting(view: dict[str, Any], operator: str | None, role: str | None) -> dict[str, Any]:
    """Whether this operator (any, when ``operator`` is ``None``) may decide this pending
    approval, and whether it waits for a human."""
    decided = {d["party"] for d in view["decisions"]}
    party = party_of("operator", None, view["required"], decided)
    may = party is not None and party not in decided
    if operator is not None and role not in DECIDING_ROLES:
        may = False
    elif operator is not None and party == HUMAN and view["kind"] == "incident":
        may = may and human_refusal(operator, role, view["subject"].get("human")) is None
    return {"operator_may_decide": may, "waiting_for_you": HUMAN in view["waiting_for"]}


def pending_decisions(
    conn: Connection, now: datetime, operator: str | None = None, role: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pending approvals (not an incident's) and unconfirmed incidents, oldest first; whether
    ``operator`` (of ``role``) may decide each, or any operator when none is named."""
    approvals: dict[int, dict[str, Any]] = {}
    for row in conn.execute(
        select(AP).where(AP.c.status == "pending", AP.c.expires_at > now).order_by(AP.c.id)
    ):
        view = approval_view(conn, row, now)
        approvals[row.id] = view | _waiting(view, operator, role)
    incidents = []
    for row in conn.execute(select(INC).where(INC.c.status == "unconfirmed").order_by(INC.c.id)):
        approval = approvals.pop(row.approval_id, None)
        if approval is None:
            continue  # its approval expired: nothing left to decide
        incidents.append(
            incident_view(row)
            | {
                "waiting_for": approval["waiting_for"],
                "required": approval["required"],
                "decisions": approval["decisions"],
                "expires_at": approval["expires_at"],
                "seconds_left": approval["seconds_left"],
                "operator_may_decide": approval["operator_may_decide"],
                "waiting_for_you": approval["waiting_for_you"],
            }
        )
    return list(approvals.values()), incidents


def _misses(conn: Connection, since: datetime) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(E.c.ts, E.c.data)
        .where(E.c.type == ev.AGENT_LIVENESS_CHANGED, E.c.ts >= since)
        .order_by(E.c.seq)
    )
    return [
        {"ts": isoformat(r.ts), "agent": r.data.get("agent"), "to": r.data.get("to")}
        for r in rows
        if r.data.get("to") in MISSED and r.data.get("reason") == "silence"
    ]


def _scenes(conn: Connection) -> list[dict[str, Any]]:
    """The latest narration of ``mcos demo``, oldest first (none outside a demo)."""
    rows = conn.execute(
        select(E.c.seq, E.c.data)
        .where(E.c.type == ev.DEMO_SCENE, E.c.actor.like("operator:%"))
        .order_by(E.c.seq.desc())
        .limit(RECENT_SCENES)
    ).all()
    return [{**r.data, "seq": r.seq} for r in reversed(rows)]


def snapshot(
    conn: Connection, fleet: Fleet, now: datetime, operator: str, role: str | None
) -> dict[str, Any]:
    """Everything the dashboard's first view needs, consistent with ``last_seq``."""
    last_seq = conn.execute(select(func.coalesce(func.max(E.c.seq), 0))).scalar_one()
    agents = _agents(conn, fleet, now)
    tasks, counts = _tasks(conn)
    approvals, incidents = pending_decisions(conn, now, operator, role)
    by_liveness = Counter(a["liveness"] for a in agents)
    configs = [c for c in (fleet.agent(a["name"]) for a in agents) if c is not None]
    return {
        "last_seq": int(last_seq),
        "now": now.isoformat(),
        "fleet": {
            "name": fleet.fleet.name,
            "timezone": fleet.fleet.timezone,
            # Every agent mcos runs on the scripted provider (``mcos demo``, whose slot for an
            # agent you bring runs elsewhere): the page says so up top.
            "simulated": all(a.provider == "simulated" or a.external for a in fleet.agents),
        },
        "scenes": _scenes(conn),
        "operator": operator,
        "role": role,
        "agents": agents,
        # The page turns "time since heartbeat" amber and red between the server's sweeps.
        "liveness_stalled_after_seconds": {
            c.name: fleet.liveness_for(c).stalled_after_seconds for c in configs
        },
        "liveness_offline_after_seconds": {
            c.name: fleet.liveness_for(c).offline_after_seconds for c in configs
        },
        "tasks": tasks,
        "task_counts": counts,
        "columns": [c.value for c in COLUMNS],
        "transitions": {s.value: sorted(t.value for t in TRANSITIONS[s]) for s in COLUMNS},
        "approvals": approvals,
        "incidents": incidents,
        "committees": open_committees(conn),
        "escalations": open_escalations(conn),
        # Notify channels with their health: a failing one is a banner on every view.
        "notify": channel_states(conn, fleet),
        "messages": list_messages(conn, limit=RECENT_MESSAGES),
        "usage": budgets.usage_summary(conn, fleet, now),
        "health": {
            "by_liveness": {state.value: by_liveness.get(state.value, 0) for state in Liveness},
            "heartbeats_missed_24h": len(_misses(conn, now - timedelta(hours=24))),
            "cooldowns": [
                {
                    "agent": a["name"],
                    "credential_env": a["credential_env"],
                    "until": a["cooldown_until"],
                }
                for a in agents
                if a["liveness"] == Liveness.COOLING_DOWN.value
            ],
        },
        "value": value_summary(conn, fleet, now),
    }


def series(conn: Connection, now: datetime, hours: int) -> dict[str, Any]:
    """Tokens, cost and calls per hour over the last ``hours``, and the heartbeats missed."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    tokens, calls = [0] * hours, [0] * hours
    cost = [0.0] * hours
    by_model: list[dict[str, int]] = [{} for _ in range(hours)]
    rows = conn.execute(
        select(
            U.c.ts,
            U.c.model,
            U.c.cost_usd,
            (U.c.input_tokens + U.c.output_tokens).label("tokens"),
        ).where(U.c.ts >= start)
    )
    for row in rows:
        i = int((row.ts - start).total_seconds() // 3600)
        if 0 <= i < hours:
            tokens[i] += int(row.tokens)
            cost[i] += float(row.cost_usd)
            calls[i] += 1
            by_model[i][row.model] = by_model[i].get(row.model, 0) + int(row.tokens)
    buckets = [
        {
            "start": (start + timedelta(hours=i)).isoformat(),
            "tokens": tokens[i],
            "cost_usd": round(cost[i], 6),
            "calls": calls[i],
            "by_model": by_model[i],
        }
        for i in range(hours)
    ]
    return {"bucket_seconds": 3600, "buckets": buckets, "misses": _misses(conn, start)}


def _gauge_history(conn: Connection, name: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(E.c.ts, E.c.data)
        .where(E.c.subject == f"agent:{name}", E.c.type == ev.AGENT_HEARTBEAT)
        .order_by(E.c.seq.desc())
        .limit(200)
    ).all()
    return [
        {
            "ts": isoformat(r.ts),
            "tokens": r.data["gauge"]["tokens"],
            "window": r.data["gauge"]["window"],
            "flush_line": r.data["gauge"]["flush_line"],
        }
        for r in reversed(rows)
        if r.data.get("gauge")
    ]


def _calls(conn: Connection, name: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(U).where(U.c.agent == name).order_by(U.c.id.desc()).limit(100))
    return [
        {
            "ts": isoformat(r.ts),
            "model": r.model,
            "provider": r.provider,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cache_read_tokens": r.cache_read_tokens,
            "cache_write_tokens": r.cache_write_tokens,
            "cost_usd": _money(r.cost_usd),
            "latency_ms": r.latency_ms,
            "task_id": r.task_id,
        }
        for r in rows
    ]


def _notes(conn: Connection, name: str) -> list[dict[str, Any]]:
    days = [
        r.day
        for r in conn.execute(
            select(N.c.day).where(N.c.agent == name).distinct().order_by(N.c.day.desc()).limit(14)
        )
    ]
    by_day: dict[str, list[dict[str, Any]]] = {day: [] for day in days}
    for r in conn.execute(select(N).where(N.c.agent == name, N.c.day.in_(days)).order_by(N.c.id)):
        by_day[r.day].append({"ts": isoformat(r.ts), "content": r.content})
    return [{"day": day, "notes": notes} for day, notes in by_day.items()]


def _denials(conn: Connection, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    before = None
    # Newest first, a page at a time, until a hundred denials or the agent's start.
    while len(found) < 100:
        query = (
            select(E.c.seq, E.c.ts, E.c.data)
            .where(E.c.subject == f"agent:{name}", E.c.type == ev.POLICY_DECIDED)
            .order_by(E.c.seq.desc())
            .limit(500)
        )
        if before is not None:
            query = query.where(E.c.seq < before)
        rows = conn.execute(query).all()
        if not rows:
            break
        found += [
            {
                "seq": r.seq,
                "ts": isoformat(r.ts),
                "action": r.data.get("action"),
                "rule": r.data.get("rule"),
                "reason": r.data.get("reason"),
            }
            for r in rows
            if r.data.get("outcome") == "deny"
        ]
        before = rows[-1].seq
    return found[:100]


def agent_page(conn: Connection, fleet: Fleet, name: str, now: datetime) -> dict[str, Any]:
    """One agent: its card, gauge history, recent calls, notes, denials, tasks and messages."""
    agent = get_agent(conn, fleet, name, now)
    row = conn.execute(select(A).where(A.c.name == name)).one()
    used = budgets.spent(conn, fleet, name, now)
    tasks = list_tasks(conn, assignee=name, limit=5_000)
    return {
        "agent": agent | {"spend": _spend(used, budgets.budget_of(fleet, row))},
        "gauge_history": _gauge_history(conn, name),
        "calls": _calls(conn, name),
        "notes": _notes(conn, name),
        "denials": _denials(conn, name),
        "tasks": tasks,
        "messages": list_messages(conn, agent=name, limit=100),
    }
