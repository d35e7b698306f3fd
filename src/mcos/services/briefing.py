"""The morning briefing: the last day of the fleet, assembled from the log and the tables.

Every figure here is read from the data; a model may later write the prose around it, but
never the numbers. ``briefing`` returns the sections as data and ``to_markdown`` renders them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select

from mcos.contract.vocab import PRIORITY_RANK
from mcos.domain import events as ev
from mcos.domain.events import visible_to_agent
from mcos.domain.kanban import TaskStatus
from mcos.domain.liveness import Liveness
from mcos.fleet.schema import Fleet
from mcos.services import budgets
from mcos.services import schedules as scheduled
from mcos.services.agents import list_agents
from mcos.services.committees import decided_between, open_committees
from mcos.services.dashboard import pending_decisions
from mcos.services.incidents import incident_view
from mcos.services.incidents import visible as incident_visible
from mcos.services.tasks import task_summary
from mcos.services.value import done_task_ids, spend_since, value_summary
from mcos.storage import tables

E, T, INC = tables.events, tables.tasks, tables.incidents
OPEN = (TaskStatus.INBOX.value, TaskStatus.ASSIGNED.value, TaskStatus.IN_PROGRESS.value)
# What counts against an agent in the briefing, by the event that records it.
MISBEHAVIOUR = {
    ev.POLICY_DECIDED: "actions refused by policy",
    ev.BUDGET_EXCEEDED: "budget exceeded",
    ev.MEMORY_COMPACTION_REFUSED: "compaction refused (no memory flush first)",
    ev.AGENT_LIVENESS_CHANGED: "went silent (stalled or offline)",
    ev.INCIDENT_RAISED: "tried to raise an incident as another agent",
    "runtime.task_escalated": "tasks escalated after repeated failures",
}


def _offender(event_type: str, actor: str, data: dict[str, Any]) -> str | None:
    """The agent an event counts against, or ``None`` if it is no misbehaviour."""
    if event_type == ev.POLICY_DECIDED and data.get("outcome") != "deny":
        return None
    if event_type == ev.AGENT_LIVENESS_CHANGED and (
        data.get("reason") != "silence"
        or data.get("to") not in (Liveness.STALLED.value, Liveness.OFFLINE.value)
    ):
        return None
    if event_type == ev.INCIDENT_RAISED and "as_agent" not in data:
        return None
    if event_type == ev.MEMORY_COMPACTION_REFUSED:
        return actor.removeprefix("agent:") if actor.startswith("agent:") else None
    agent = data.get("agent")
    return agent if isinstance(agent, str) else None


def _misbehaviour(conn: Connection, since: datetime) -> list[dict[str, Any]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    rows = conn.execute(
        select(E.c.type, E.c.actor, E.c.data)
        .where(E.c.ts >= since, E.c.type.in_(list(MISBEHAVIOUR)))
        .order_by(E.c.seq)
    )
    for row in rows:
        agent = _offender(row.type, row.actor, row.data)
        if agent is not None:
            counts[agent][MISBEHAVIOUR[row.type]] += 1
    return [
        {"agent": agent, "what": dict(sorted(what.items())), "total": sum(what.values())}
        for agent, what in sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    ]


def _work(conn: Connection, since: datetime) -> dict[str, Any]:
    done_ids = done_task_ids(conn, since)
    query = select(T).where(T.c.id.in_(done_ids)).order_by(T.c.id)
    done = [task_summary(r) for r in conn.execute(query)]
    blocked_rows = conn.execute(
        select(T).where(T.c.status == TaskStatus.BLOCKED.value).order_by(T.c.id)
    ).all()
    reasons = _block_reasons(conn, [r.id for r in blocked_rows])
    blocked = [task_summary(r) | {"reason": reasons.get(r.id)} for r in blocked_rows]
    review = [
        task_summary(r)
        for r in conn.execute(
            select(T).where(T.c.status == TaskStatus.REVIEW.value).order_by(T.c.id)
        )
    ]
    created = conn.execute(
        select(func.count()).select_from(T).where(T.c.created_at >= since)
    ).scalar_one()
    return {"done": done, "review": review, "blocked": blocked, "created": int(created)}


def _block_reasons(conn: Connection, task_ids: list[int]) -> dict[int, str | None]:
    reasons: dict[int, str | None] = {}
    if not task_ids:
        return reasons
    subjects = [f"task:{i}" for i in task_ids]
    for row in conn.execute(
        select(E.c.subject, E.c.data)
        .where(E.c.type == ev.TASK_MOVED, E.c.subject.in_(subjects))
        .order_by(E.c.seq)
    ):
        if row.data.get("to") == TaskStatus.BLOCKED.value:
            reasons[int(row.subject.removeprefix("task:"))] = row.data.get("reason")
    return reasons


def _planned(conn: Connection, fleet: Fleet, now: datetime) -> list[dict[str, Any]]:
    """Open work: what is in progress, assigned or waiting in the inbox, and what falls due."""
    day, _ = budgets.period_starts(fleet, now)
    rows = conn.execute(
        select(T)
        .where(or_(T.c.status.in_(OPEN), T.c.due_at < day + timedelta(days=1)))
        .where(T.c.status.notin_((TaskStatus.DONE.value,)))
        .order_by(T.c.id)
    )
    items = [
        task_summary(r) | {"due_today": r.due_at is not None and r.due_at < day + timedelta(days=1)}
        for r in rows
    ]
    return sorted(items, key=lambda t: (not t["due_today"], PRIORITY_RANK[t["priority"]], t["id"]))


def briefing(
    conn: Connection, fleet: Fleet, now: datetime, hours: int = 24, *, reader: str | None = None
) -> dict[str, Any]:
    """The last ``hours`` of the fleet, as data: each section from its own table or the log.

    ``reader`` names the agent (the orchestrator) reading it: incidents it may not see (an
    unconfirmed one it does not confirm, another's self-logged P3) are left out, as they are
    from its heartbeat; operators (``None``) see them all.
    """
    since = now - timedelta(hours=hours)
    agents = list_agents(conn, fleet, now)
    rows = conn.execute(select(INC).where(INC.c.ts >= since).order_by(INC.c.id)).all()
    incidents = [
        incident_view(r) for r in rows if reader is None or incident_visible(fleet, r, reader)
    ]
    approvals, unconfirmed = pending_decisions(conn, now)
    if reader is not None:
        shown = {i["id"] for i in incidents}
        unconfirmed = [i for i in unconfirmed if i["id"] in shown]
        approvals = [a for a in approvals if visible_to_agent(a["subject"], reader)]
    window_usd, window_calls = spend_since(conn, since)
    return {
        "fleet": fleet.fleet.name,
        "generated_at": now.isoformat(),
        "since": since.isoformat(),
        "hours": hours,
        "written_by": "data",
        "agents": dict(Counter(a["liveness"] for a in agents)),
        "work": _work(conn, since),
        "incidents": incidents,
        "committees": decided_between(conn, since, now),
        "waiting": {
            "approvals": approvals,
            "incidents": unconfirmed,
            "committees": open_committees(conn),
        },
        "spend": {
            "window_usd": round(window_usd, 6),
            "window_calls": window_calls,
            "usage": budgets.usage_summary(conn, fleet, now),
        },
        "misbehaviour": _misbehaviour(conn, since),
        "schedule_attention": scheduled.attention(conn, since),
        "planned": _planned(conn, fleet, now),
        "scheduled_today": scheduled.due_today(conn, fleet, now),
        "value": value_summary(conn, fleet, now),
    }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _money(value: float | None) -> str:
    return "no budget" if value is None else f"${value:,.2f}"


def _task_line(task: dict[str, Any]) -> str:
    who = f" — {task['assignee']}" if task["assignee"] else " — unassigned"
    return f"- #{task['id']} {task['title']}{who}"


def _committee_lines(decided: list[dict[str, Any]]) -> list[str]:
    """Committees decided in the window, as their own section (none: no section)."""
    if not decided:
        return []
    lines = []
    for c in decided:
        t = c["tally"]
        result = c["outcome"] or c["status"].replace("_", " ")
        lines.append(
            f"- committee #{c['id']} {c['title']}: {result} ({t['for']} for, {t['against']} "
            f"against, {t['veto']} veto, {t['abstain']} abstaining of {t['voters']})"
        )
    return [f"## Committee decisions ({len(decided)})", *lines, ""]


def to_markdown(b: dict[str, Any]) -> str:
    """The briefing as Markdown, every figure taken from ``b``."""
    out = [
        f"# Morning briefing — {b['fleet']}",
        "",
        f"The last {b['hours']} hours, to {b['generated_at'][:16].replace('T', ' ')} UTC. "
        "Assembled from the control plane's data.",
        "",
        "Agents now: "
        + ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(b["agents"].items())),
        "",
        f"## Work done ({len(b['work']['done'])})",
        *([_task_line(t) for t in b["work"]["done"]] or ["- nothing finished"]),
        "",
        f"## Waiting for review ({len(b['work']['review'])})",
        *(
            [_task_line(t) for t in b["work"]["review"]]
            or ["- nothing: every finished task was accepted"]
        ),
        "",
        f"## Blocked ({len(b['work']['blocked'])})",
        *(
            [
                _task_line(t) + (f": {t['reason']}" if t["reason"] else "")
                for t in b["work"]["blocked"]
            ]
            or ["- nothing blocked"]
        ),
        "",
        f"## Incidents ({len(b['incidents'])})",
        *(
            [
                f"- {i['severity']} #{i['id']} {i['title']} (from {i['reporter']}): {i['status']}"
                + (f" by {i['resolved_by']}" if i["resolved_by"] else "")
                + (f" — {i['resolution']}" if i["resolution"] else "")
                for i in b["incidents"]
            ]
            or ["- none raised"]
        ),
        "",
    ]
    out += _committee_lines(b.get("committees", []))
    waiting = b["waiting"]
    committees = waiting.get("committees", [])
    count = len(waiting["approvals"]) + len(waiting["incidents"]) + len(committees)
    lines = (
        [
            f"- approval #{a['id']} ({a['kind']}, {a['agent']}): "
            f"{a['reason'] or 'no reason given'}; waiting for {', '.join(a['waiting_for'])}"
            for a in waiting["approvals"]
        ]
        + [
            f"- incident #{i['id']} {i['severity']} {i['title']}: waiting for "
            f"{', '.join(i['waiting_for'])}"
            for i in waiting["incidents"]
        ]
        + [
            f"- committee #{c['id']} {c['title']}: waiting for {', '.join(c['waiting_for'])}"
            for c in committees
        ]
    )
    out += [f"## Waiting for a decision ({count})", *(lines or ["- nothing"])]
    usage = b["spend"]["usage"]
    out += [
        "",
        "## Spend",
        f"- last {b['hours']} h: ${b['spend']['window_usd']:,.2f} over "
        f"{b['spend']['window_calls']} calls",
        f"- today: ${usage['today_usd']:,.2f}; this month: ${usage['month_usd']:,.2f}",
        "",
        "| agent | today | daily budget | month | monthly budget |",
        "|---|---:|---:|---:|---:|",
    ]
    spenders = sorted(usage["agents"], key=lambda a: (-a["spent"]["monthly_usd"], a["agent"]))
    out += [
        f"| {a['agent']}{' (paused)' if a['paused'] else ''} | ${a['spent']['daily_usd']:,.2f} "
        f"| {_money(a['budget']['daily_usd'])} | ${a['spent']['monthly_usd']:,.2f} "
        f"| {_money(a['budget']['monthly_usd'])} |"
        for a in spenders
        if a["spent"]["monthly_usd"] > 0 or a["paused"]
    ]
    out += [
        "",
        "| model | calls today | today | calls this month | month |",
        "|---|---:|---:|---:|---:|",
    ]
    today = {m["model"]: m for m in usage["models_today"]}
    out += [
        f"| {m['model']} | {today.get(m['model'], {}).get('calls', 0)} "
        f"| ${today.get(m['model'], {}).get('cost_usd', 0.0):,.2f} | {m['calls']} "
        f"| ${m['cost_usd']:,.2f} |"
        for m in usage["models_this_month"]
    ]
    if b["value"] is not None:
        month = b["value"]["month"]
        ratio = f"{month['roi']:g}:1" if month["roi"] is not None else "n/a"
        out += [
            "",
            "## Value",
            f"- this month: {_count(month['tasks_credited'], 'task')} credited, "
            f"{month['hours_saved']:g} h "
            f"saved, worth ${month['value_usd']:,.2f} against ${month['cost_usd']:,.2f} "
            f"(model spend ${month['spend_usd']:,.2f} + fixed costs "
            f"${month['fixed_costs_usd']:,.2f}, {month['fixed_costs']['days']}/"
            f"{month['fixed_costs']['days_in_month']} of the month's "
            f"${month['fixed_costs']['monthly_usd']:,.2f}): ROI {ratio}",
        ]
    out += ["", f"## Agents that misbehaved ({len(b['misbehaviour'])})"]
    out += [
        f"- {m['agent']}: " + "; ".join(f"{what} ({n})" for what, n in m["what"].items())
        for m in b["misbehaviour"]
    ] or ["- none"]
    attention = b["schedule_attention"]
    late = [
        f"- {m['schedule']}: {_count(m['count'], 'run')} missed while the control plane was down"
        for m in attention["missed"]
    ] + [
        f"- {t['schedule']}: task #{t['task']} {t['title']} never started "
        f"({t['assignee'] or 'unassigned'}, {t['status']})"
        for t in attention["not_started"]
    ]
    if late:
        out += ["", f"## Schedules needing attention ({len(late)})", *late]
    out += ["", f"## Planned today ({len(b['planned'])})"]
    out += [
        _task_line(t)
        + f" [{t['status'].replace('_', ' ')}, {t['priority']}]"
        + (" — due today" if t["due_today"] else "")
        for t in b["planned"]
    ] or ["- nothing open"]
    out += [
        f"- scheduled {r['due_at'][11:16]}: {r['schedule']} ({r['action'].replace('_', ' ')})"
        for r in b["scheduled_today"]
    ]
    return "\n".join(out) + "\n"
