"""Tasks: Kanban cards with assignee, creator, priority, parent, dependencies and full history."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from mcos.contract.requests import (
    TaskAssign,
    TaskComment,
    TaskCreate,
    TaskMove,
    TaskUpdate,
    isoformat,
)
from mcos.contract.vocab import ORCHESTRATOR
from mcos.domain import events as ev
from mcos.domain.kanban import TaskStatus, refuse_move
from mcos.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from mcos.services.access import Principal
from mcos.services.artifacts import record_acceptance
from mcos.services.events import list_events
from mcos.services.refusals import refuse_duplicate
from mcos.storage import tables
from mcos.storage.writer import WriteContext

T = tables.tasks
D = tables.task_dependencies

# The statements of the agent's hot paths (moves, comments), built once at import: SQLAlchemy
# then reuses their cache keys instead of rebuilding and hashing a new statement per request.
_TASK = select(T).where(T.c.id == bindparam("id"))
_TASK_EXISTS = select(T.c.id).where(T.c.id == bindparam("id"))
_UNFINISHED = (
    select(T.c.id)
    .join(D, D.c.depends_on_id == T.c.id)
    .where(D.c.task_id == bindparam("id"), T.c.status != TaskStatus.DONE.value)
    .order_by(T.c.id)
)
_SET_STATUS = (
    update(T)
    .where(T.c.id == bindparam("b_id"))
    .values(status=bindparam("b_status"), updated_at=bindparam("b_at"))
)


def task_summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "kind": row.kind,
        "status": row.status,
        "priority": row.priority,
        "assignee": row.assignee,
        "creator": row.creator,
        "parent_id": row.parent_id,
        "due_at": isoformat(row.due_at),
        "created_at": isoformat(row.created_at),
        "updated_at": isoformat(row.updated_at),
    }


def _task(conn: Connection, task_id: int) -> Any:
    row = conn.execute(_TASK, {"id": task_id}).first()
    if row is None:
        raise NotFound(f"no task #{task_id}", field="task_id")
    return row


def _require_agent(conn: Connection, name: str, field: str) -> None:
    row = conn.execute(select(tables.agents.c.active).where(tables.agents.c.name == name)).first()
    if row is None or not row.active:
        raise InvalidInput(f"no agent named {name!r} in the fleet", field=field)


def _may_change(principal: Principal, row: Any) -> None:
    if principal.is_operator:
        return
    if principal.name == row.assignee or principal.actor == row.creator:
        return
    raise Forbidden(
        f"agent {principal.name!r} may change only tasks it created or is assigned "
        f"(task #{row.id} is assigned to {row.assignee or 'nobody'})"
    )


def _may_accept(conn: Connection, principal: Principal, row: Any) -> None:
    """review -> done is acceptance: an operator's, or a reviewer's who did not do the work
    (the agent that asked for it, the doer's supervisor, or the orchestrator)."""
    if principal.is_operator:
        return
    if principal.name == row.assignee:
        raise Forbidden(
            f"agent {principal.name!r} cannot accept its own work: task #{row.id} waits in "
            "review for an operator or a reviewer (the agent that asked for it, its "
            "supervisor, or the orchestrator) to move it to done",
            field="status",
        )
    A = tables.agents
    supervisor = conn.execute(select(A.c.supervisor).where(A.c.name == row.assignee)).scalar()
    if (
        principal.actor == row.creator
        or supervisor == principal.name
        or _is_orchestrator(conn, principal)
    ):
        return
    raise Forbidden(
        f"agent {principal.name!r} is not a reviewer of task #{row.id}: the agent that asked "
        f"for it, {row.assignee!r}'s supervisor, the orchestrator or an operator accepts it",
        field="status",
    )


def _is_orchestrator(conn: Connection, principal: Principal) -> bool:
    if principal.kind != "agent":
        return False
    A = tables.agents
    role = conn.execute(select(A.c.role).where(A.c.name == principal.name)).scalar()
    return role == ORCHESTRATOR


def create_task(ctx: WriteContext, principal: Principal, body: TaskCreate) -> dict[str, Any]:
    conn = ctx.conn
    refuse_duplicate(ctx, principal.actor, body.id, "task")
    if body.assignee is not None:
        _require_agent(conn, body.assignee, "assignee")
    if (
        body.parent_id is not None
        and conn.execute(select(T.c.id).where(T.c.id == body.parent_id)).first() is None
    ):
        raise InvalidInput(f"no parent task #{body.parent_id}", field="parent_id")
    depends_on = sorted(set(body.depends_on))
    if depends_on:
        found = {r.id for r in conn.execute(select(T.c.id).where(T.c.id.in_(depends_on)))}
        for index, dep in enumerate(body.depends_on):
            if dep not in found:
                raise InvalidInput(f"no task #{dep} to depend on", field=f"depends_on[{index}]")
    status = TaskStatus.ASSIGNED if body.assignee else TaskStatus.INBOX
    task_id = conn.execute(
        insert(T).values(
            title=body.title,
            description=body.description,
            kind=body.kind,
            status=status.value,
            priority=body.priority.value,
            assignee=body.assignee,
            creator=principal.actor,
            parent_id=body.parent_id,
            due_at=body.due_at,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    if depends_on:
        conn.execute(insert(D), [{"task_id": task_id, "depends_on_id": d} for d in depends_on])
    view = task_summary(_task(conn, task_id)) | {
        "description": body.description,
        "depends_on": depends_on,
    }
    ctx.append(ev.TASK_CREATED, principal.actor, f"task:{task_id}", view, client_id=body.id)
    return view


def _unfinished_dependencies(conn: Connection, task_id: int) -> list[int]:
    return [r.id for r in conn.execute(_UNFINISHED, {"id": task_id})]


def move_task(
    ctx: WriteContext, principal: Principal, task_id: int, body: TaskMove
) -> dict[str, Any]:
    refuse_duplicate(ctx, principal.actor, body.id, "task move")
    row = _task(ctx.conn, task_id)
    accepting = body.status == TaskStatus.DONE
    if not accepting:
        _may_change(principal, row)
    current = TaskStatus(row.status)
    reason = refuse_move(
        current,
        body.status,
        has_assignee=row.assignee is not None,
        # Only a move to in_progress waits for dependencies: no query for the others.
        unfinished_dependencies=_unfinished_dependencies(ctx.conn, task_id)
        if body.status == TaskStatus.IN_PROGRESS
        else [],
    )
    if reason:
        raise IllegalTransition(f"task #{task_id}: {reason}", field="status")
    if accepting:  # review -> done, the only way there: who may accept this work?
        _may_accept(ctx.conn, principal, row)
    ctx.conn.execute(_SET_STATUS, {"b_id": task_id, "b_status": body.status.value, "b_at": ctx.now})
    if accepting:  # which versions of its files were accepted, and had the accepter opened them
        record_acceptance(ctx, principal, task_id)
    ctx.append(
        ev.TASK_MOVED,
        principal.actor,
        f"task:{task_id}",
        {
            "task": task_id,
            "from": current.value,
            "to": body.status.value,
            "reason": body.reason,
            "assignee": row.assignee,
            "title": row.title,
        },
        client_id=body.id,
    )
    if accepting:
        return task_summary(_task(ctx.conn, task_id))
    # The row as read, with what this move changed: no second SELECT for what we just wrote.
    return task_summary(row) | {
        "status": body.status.value,
        "updated_at": isoformat(ctx.now.astimezone(UTC)),
    }


def assign_task(
    ctx: WriteContext, principal: Principal, task_id: int, body: TaskAssign
) -> dict[str, Any]:
    refuse_duplicate(ctx, principal.actor, body.id, "task assignment")
    row = _task(ctx.conn, task_id)
    if not _is_orchestrator(ctx.conn, principal):  # it reassigns work from stalled agents
        _may_change(principal, row)
    status = TaskStatus(row.status)
    new_status: TaskStatus
    if status == TaskStatus.DONE:
        raise IllegalTransition(
            f"task #{task_id} is done; it cannot be reassigned", field="assignee"
        )
    if body.assignee is not None:
        _require_agent(ctx.conn, body.assignee, "assignee")
        new_status = TaskStatus.ASSIGNED if status == TaskStatus.INBOX else status
    elif status in (TaskStatus.INBOX, TaskStatus.ASSIGNED, TaskStatus.BLOCKED):
        new_status = TaskStatus.INBOX if status == TaskStatus.ASSIGNED else status
    else:
        raise IllegalTransition(
            f"task #{task_id} is {status.value}; move it back to assigned before unassigning",
            field="assignee",
        )
    ctx.conn.execute(
        update(T)
        .where(T.c.id == task_id)
        .values(assignee=body.assignee, status=new_status.value, updated_at=ctx.now)
    )
    ctx.append(
        ev.TASK_ASSIGNED,
        principal.actor,
        f"task:{task_id}",
        {
            "task": task_id,
            "from": row.assignee,
            "to": body.assignee,
            "status": new_status.value,
            "title": row.title,
        },
        client_id=body.id,
    )
    return task_summary(_task(ctx.conn, task_id))


def update_task(
    ctx: WriteContext, principal: Principal, task_id: int, body: TaskUpdate
) -> dict[str, Any]:
    row = _task(ctx.conn, task_id)
    _may_change(principal, row)
    changes = body.model_dump(exclude_unset=True, mode="json")
    if not changes:
        raise InvalidInput("nothing to change: give at least one field", field=None)
    values = body.model_dump(exclude_unset=True)
    for required in ("title", "description", "priority"):
        if required in values and values[required] is None:
            raise InvalidInput(f"{required} cannot be null", field=required)
    ctx.conn.execute(update(T).where(T.c.id == task_id).values(**values, updated_at=ctx.now))
    ctx.append(
        ev.TASK_UPDATED, principal.actor, f"task:{task_id}", {"task": task_id, "changes": changes}
    )
    return task_summary(_task(ctx.conn, task_id))


def comment_task(
    ctx: WriteContext, principal: Principal, task_id: int, body: TaskComment
) -> dict[str, Any]:
    refuse_duplicate(ctx, principal.actor, body.id, "comment")
    if ctx.conn.execute(_TASK_EXISTS, {"id": task_id}).first() is None:
        raise NotFound(f"no task #{task_id}", field="task_id")
    event = ctx.append(
        ev.TASK_COMMENTED,
        principal.actor,
        f"task:{task_id}",
        {"task": task_id, "body": body.body},
        client_id=body.id,
    )
    answer = {"task": task_id, "seq": event.seq, "body": body.body, "actor": principal.actor}
    return ctx.seq_of(event.seq, answer)


def get_task(conn: Connection, task_id: int) -> dict[str, Any]:
    row = _task(conn, task_id)
    depends = [
        r.depends_on_id
        for r in conn.execute(
            select(D.c.depends_on_id).where(D.c.task_id == task_id).order_by(D.c.depends_on_id)
        )
    ]
    children = [
        r.id for r in conn.execute(select(T.c.id).where(T.c.parent_id == task_id).order_by(T.c.id))
    ]
    return task_summary(row) | {
        "description": row.description,
        "depends_on": depends,
        "children": children,
        "history": list_events(conn, subject=f"task:{task_id}", limit=10_000),
    }


def list_tasks(
    conn: Connection,
    *,
    status: str | None = None,
    assignee: str | None = None,
    limit: int = 500,
    after_id: int = 0,
) -> list[dict[str, Any]]:
    query = select(T).where(T.c.id > after_id).order_by(T.c.id).limit(limit)
    if status is not None:
        query = query.where(T.c.status == status)
    if assignee is not None:
        query = query.where(T.c.assignee == assignee)
    return [task_summary(r) for r in conn.execute(query)]
