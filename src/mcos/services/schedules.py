"""Schedules: the fleet file's ``[[schedules]]``, fired by the control plane exactly once each.

``tick`` is one write unit per schedule: due times after the schedule's cursor are fired or
reported, and the cursor moves past them in the same transaction. Writes are serialised (one
writer per process; on PostgreSQL every batch first takes the event-log lock), so a replica
sees the cursor another one moved; the unique ``(schedule, due_at)`` of ``schedule_runs`` is the
backstop. After downtime only the newest missed run fires (if within its grace window); the
others are listed in one ``schedule.missed`` event, never skipped silently.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, desc, insert, select, update

from mcos.contract.requests import MessageIn, TaskCreate, isoformat
from mcos.contract.vocab import ORCHESTRATOR, MessageKind, Priority
from mcos.domain import events as ev
from mcos.domain.kanban import TaskStatus
from mcos.domain.schedules import MAX_DUE, catch_up, due_between, fires_on_day, next_fire
from mcos.errors import NotFound
from mcos.fleet.schedules import BRIEFING_KIND, Schedule
from mcos.fleet.schema import OPERATOR, Fleet
from mcos.services.access import SYSTEM, Principal, require_operator
from mcos.services.agents import nudge_agent
from mcos.services.messages import send_message
from mcos.services.tasks import create_task
from mcos.storage import tables
from mcos.storage.writer import WriteContext

SS, R, T = tables.schedules, tables.schedule_runs, tables.tasks
SCHEDULER = Principal("operator", "scheduler")
STARTED = (TaskStatus.IN_PROGRESS.value, TaskStatus.REVIEW.value, TaskStatus.DONE.value)


def _schedule(fleet: Fleet, name: str) -> Schedule:
    found = next((s for s in fleet.schedules if s.name == name), None)
    if found is None:
        known = ", ".join(s.name for s in fleet.schedules) or "none"
        raise NotFound(
            f"no schedule named {name!r} in the fleet file (known: {known})", field="name"
        )
    return found


def _state(ctx: WriteContext, name: str) -> Any:
    row = ctx.conn.execute(select(SS).where(SS.c.name == name)).first()
    if row is None:
        ctx.conn.execute(
            insert(SS).values(name=name, registered_at=ctx.now, cursor_at=ctx.now, missed=0)
        )
        row = ctx.conn.execute(select(SS).where(SS.c.name == name)).one()
    return row


def tick(
    ctx: WriteContext, fleet: Fleet, name: str, every: timedelta = timedelta(0)
) -> dict[str, Any] | None:
    """Fire or report what fell due since this schedule's cursor; ``None`` when nothing did.

    ``every`` is how often the scheduler ticks: a run that fell due since the last tick is on
    time, whatever the grace window (a grace shorter than a tick would otherwise miss them all).
    """
    schedule = _schedule(fleet, name)
    state = _state(ctx, name)
    zone = schedule.zone(fleet.fleet.timezone)
    due = due_between(schedule.cron, zone, state.cursor_at, ctx.now)
    if not due:
        return None
    plan = catch_up(due, ctx.now, timedelta(minutes=schedule.grace_minutes) + every)
    if plan.missed:
        ctx.append(
            ev.SCHEDULE_MISSED,
            SYSTEM,
            f"schedule:{name}",
            {
                "schedule": name,
                "count": len(plan.missed),
                "due_times": [_local(t, zone) for t in plan.missed],
                "truncated": len(due) >= MAX_DUE,
                "reason": "the control plane was not running when these fell due"
                if plan.fire is not None
                else f"the control plane was not running; even the newest is more than "
                f"{schedule.grace_minutes:g} min late, past its grace window",
            },
        )
    ctx.conn.execute(
        update(SS)
        .where(SS.c.name == name)
        .values(cursor_at=due[-1], missed=state.missed + len(plan.missed))
    )
    if plan.fire is None:
        return None
    return fire(ctx, fleet, schedule, plan.fire, "cron", SCHEDULER)


def run_now(ctx: WriteContext, fleet: Fleet, principal: Principal, name: str) -> dict[str, Any]:
    """An operator runs a schedule now; recorded as a run with trigger ``manual``."""
    require_operator(principal, "run a schedule")
    schedule = _schedule(fleet, name)
    _state(ctx, name)
    run = fire(ctx, fleet, schedule, ctx.now, "manual", principal)
    assert run is not None  # ctx.now is this unit's own time: no run has it yet
    return run


def _targets(fleet: Fleet, schedule: Schedule) -> list[str]:
    if not (schedule.agents or schedule.roles):
        return [a.name for a in fleet.agents]
    return [a.name for a in fleet.agents if a.name in schedule.agents or a.role in schedule.roles]


def fire(
    ctx: WriteContext,
    fleet: Fleet,
    schedule: Schedule,
    due_at: datetime,
    trigger: str,
    principal: Principal,
) -> dict[str, Any] | None:
    """Run ``schedule``'s action for ``due_at`` unless that run is recorded already."""
    if ctx.conn.execute(
        select(R.c.id).where(R.c.schedule == schedule.name, R.c.due_at == due_at)
    ).first():
        return None
    actor = SYSTEM if principal is SCHEDULER else principal.actor
    zone = schedule.zone(fleet.fleet.timezone)
    detail: dict[str, Any] = {"action": schedule.action}
    task_id: int | None = None
    if schedule.action in ("task", "briefing"):
        assignee = schedule.assignee
        if schedule.action == "briefing":
            assignee = next(a.name for a in fleet.agents if a.role == ORCHESTRATOR)
        local_day = due_at.astimezone(ZoneInfo(zone)).date().isoformat()
        task = create_task(
            ctx,
            principal,
            TaskCreate(
                title=schedule.title or f"Morning briefing {local_day}",
                description=schedule.description
                or "Write the morning briefing from GET /api/v1/briefing.",
                kind=BRIEFING_KIND if schedule.action == "briefing" else schedule.kind,
                priority=Priority(schedule.priority),
                assignee=assignee,
            ),
        )
        task_id = task["id"]
        detail |= {"task": task_id, "assignee": assignee}
    else:
        reason = f"schedule {schedule.name}: {schedule.title or 'heartbeat'}"
        if schedule.action == "memory_rollover":
            day = due_at.astimezone(ZoneInfo(fleet.fleet.timezone)).date().isoformat()
            detail |= {"day": day, "memory_file": f"memory/{day}.md"}
            reason = f"schedule {schedule.name}: a new day; write memory/{day}.md, reread notes"
        nudged = _targets(fleet, schedule)
        for agent in nudged:
            nudge_agent(ctx, agent, reason, actor)
        detail["nudged"] = nudged
    start_by = ctx.now + timedelta(minutes=schedule.start_within_minutes) if task_id else None
    run_id = ctx.conn.execute(
        insert(R).values(
            schedule=schedule.name,
            due_at=due_at,
            fired_at=ctx.now,
            trigger=trigger,
            actor=actor,
            outcome="fired",
            detail=detail,
            task_id=task_id,
            start_by=start_by,
            not_started=False,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    data = {
        "schedule": schedule.name,
        "run": run_id,
        "due_at": _local(due_at, zone),
        "trigger": trigger,
        **detail,
    }
    ctx.append(ev.SCHEDULE_FIRED, actor, f"schedule:{schedule.name}", data)
    return data


def flag_not_started(ctx: WriteContext, fleet: Fleet) -> int:
    """Flag, once, each scheduled task not started ``start_within_minutes`` after it fired."""
    rows = ctx.conn.execute(
        select(R, T.c.status, T.c.assignee, T.c.title)
        .join(T, T.c.id == R.c.task_id)
        .where(R.c.start_checked_at.is_(None), R.c.start_by <= ctx.now)
        .order_by(R.c.id)
    ).all()
    flagged = 0
    for row in rows:
        late = row.status not in STARTED
        ctx.conn.execute(
            update(R).where(R.c.id == row.id).values(start_checked_at=ctx.now, not_started=late)
        )
        if not late:
            continue
        agent = fleet.agent(row.assignee) if row.assignee else None
        supervisor = agent.supervisor if agent is not None else OPERATOR
        what = (
            f"Task #{row.task_id} '{row.title}' from schedule {row.schedule} is still "
            f"{row.status}, {(ctx.now - row.fired_at).total_seconds() / 60:.0f} min after it was "
            f"created for {row.assignee or 'nobody'}."
        )
        told = [OPERATOR]
        if supervisor != OPERATOR and fleet.agent(supervisor) is not None:
            send_message(
                ctx,
                fleet,
                SCHEDULER,
                MessageIn(to=supervisor, kind=MessageKind.REPORT, body=what, task_id=row.task_id),
            )
            told = [supervisor]
        ctx.append(
            ev.SCHEDULE_NOT_STARTED,
            SYSTEM,
            f"task:{row.task_id}",
            {
                "schedule": row.schedule,
                "run": row.id,
                "task": row.task_id,
                "title": row.title,
                "assignee": row.assignee,
                "status": row.status,
                "fired_at": isoformat(row.fired_at),
                "told": told,
            },
        )
        flagged += 1
    return flagged


def _local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).isoformat()


def _last_run(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(R, T.c.status)
        .outerjoin(T, T.c.id == R.c.task_id)
        .where(R.c.schedule == name)
        .order_by(desc(R.c.fired_at), desc(R.c.id))
        .limit(1)
    ).first()
    if row is None:
        return None
    outcome = "not_started" if row.not_started else row.status or row.outcome
    return {
        "run": row.id,
        "due_at": isoformat(row.due_at),
        "fired_at": isoformat(row.fired_at),
        "trigger": row.trigger,
        "actor": row.actor,
        "outcome": outcome,
        "task": row.task_id,
    }


def list_schedules(conn: Connection, fleet: Fleet, now: datetime) -> list[dict[str, Any]]:
    """Each schedule of the fleet file: cron, zone, action, next run, last run, missed runs."""
    states = {r.name: r for r in conn.execute(select(SS))}
    out = []
    for schedule in fleet.schedules:
        zone = schedule.zone(fleet.fleet.timezone)
        state = states.get(schedule.name)
        action = schedule.model_dump(
            exclude={"name", "cron", "timezone", "grace_minutes"}, exclude_defaults=True
        ) | {"action": schedule.action}
        out.append(
            {
                "name": schedule.name,
                "cron": schedule.cron,
                "timezone": zone,
                "action": action,
                "next_run": _local(next_fire(schedule.cron, zone, now), zone),
                "last_run": _last_run(conn, schedule.name),
                "missed": state.missed if state is not None else 0,
                "registered_at": isoformat(state.registered_at) if state is not None else None,
            }
        )
    return out


def due_today(conn: Connection, fleet: Fleet, now: datetime) -> list[dict[str, Any]]:
    """Scheduled runs still to come before the end of the fleet's day, soonest first."""
    out = []
    for schedule in fleet.schedules:
        zone = schedule.zone(fleet.fleet.timezone)
        for at in fires_on_day(schedule.cron, zone, now, fleet.fleet.timezone)[:24]:
            out.append(
                {"schedule": schedule.name, "action": schedule.action, "due_at": _local(at, zone)}
            )
    return sorted(out, key=lambda r: (datetime.fromisoformat(r["due_at"]), r["schedule"]))


def attention(conn: Connection, since: datetime) -> dict[str, list[dict[str, Any]]]:
    """Missed runs and scheduled tasks never started, as recorded since ``since``."""
    E = tables.events
    rows = conn.execute(
        select(E.c.type, E.c.data)
        .where(E.c.ts >= since, E.c.type.in_([ev.SCHEDULE_MISSED, ev.SCHEDULE_NOT_STARTED]))
        .order_by(E.c.seq)
    )
    missed: list[dict[str, Any]] = []
    not_started: list[dict[str, Any]] = []
    for row in rows:
        data = row.data
        if row.type == ev.SCHEDULE_MISSED:
            missed.append({"schedule": data["schedule"], "count": data["count"]})
        else:
            not_started.append(
                {k: data.get(k) for k in ("schedule", "task", "title", "assignee", "status")}
            )
    return {"missed": missed, "not_started": not_started}
