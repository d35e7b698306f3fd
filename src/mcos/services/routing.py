"""Routing an incoming request: decide (``mcos.domain.routing``), create the task, log why.

The decision is made inside the write unit, on the liveness and open-task counts of that
moment, so two requests routed at once see each other's tasks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from mcos.contract.requests import RouteRequest, TaskAssign, TaskCreate
from mcos.domain import events as ev
from mcos.domain.kanban import TaskStatus
from mcos.domain.routing import Candidate, RoutingRequest, Rule, route
from mcos.fleet.schema import Fleet
from mcos.services.access import Principal, require_fleet_power
from mcos.services.agents import list_agents
from mcos.services.tasks import assign_task, create_task
from mcos.storage import tables
from mcos.storage.writer import WriteContext

T = tables.tasks


def rules_of(fleet: Fleet) -> list[Rule]:
    return [
        Rule(
            name=r.name,
            keywords=r.match.keywords,
            kinds=r.match.kinds,
            role=r.role,
            agent=r.agent,
            capabilities=r.capabilities,
            priority=r.priority,
        )
        for r in fleet.routing
    ]


def candidates(conn: Connection, fleet: Fleet, now: datetime) -> list[Candidate]:
    """Every active agent with its liveness now and its open (not done) tasks."""
    load: dict[str, int] = {
        assignee: int(count)
        for assignee, count in conn.execute(
            select(T.c.assignee, func.count())
            .where(T.c.assignee.is_not(None), T.c.status != TaskStatus.DONE.value)
            .group_by(T.c.assignee)
        )
    }
    return [
        Candidate(
            name=a["name"],
            role=a["role"],
            capabilities=frozenset(a["capabilities"]),
            liveness=a["liveness"],
            open_tasks=load.get(a["name"], 0),
        )
        for a in list_agents(conn, fleet, now)
    ]


def route_request(
    ctx: WriteContext, fleet: Fleet, principal: Principal, body: RouteRequest
) -> dict[str, Any]:
    """Route ``body``: the task is assigned to the chosen agent, or left in the inbox."""
    require_fleet_power(fleet, principal, "route requests")
    request = RoutingRequest(body.title, body.description, body.kind, tuple(body.capabilities))
    decision = route(request, rules_of(fleet), candidates(ctx.conn, fleet, ctx.now))
    task: dict[str, Any] | None = None
    if not body.dry_run:
        create = TaskCreate(
            id=body.id,
            title=body.title,
            description=body.description,
            kind=body.kind,
            priority=body.priority,
        )
        task = create_task(ctx, principal, create)
        if decision.agent is not None:
            task = assign_task(ctx, principal, task["id"], TaskAssign(assignee=decision.agent))
    data = decision.as_dict() | {
        "request": body.model_dump(mode="json", exclude={"id"}),
        "task_id": task["id"] if task else None,
        "dry_run": body.dry_run,
    }
    subject = f"task:{task['id']}" if task else None
    event = ctx.append(ev.ROUTING_DECIDED, principal.actor, subject, data)
    return ctx.seq_of(event.seq, data | {"task": task})
