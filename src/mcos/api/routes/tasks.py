"""/api/v1/tasks: the Kanban board."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.body import documented_body, json_body
from mcos.api.params import AfterRowId, TaskId
from mcos.api.responses import JSON
from mcos.contract.agent import Comment, Task, TaskList
from mcos.contract.errors import errors
from mcos.contract.requests import (
    AgentName,
    TaskAssign,
    TaskComment,
    TaskCreate,
    TaskMove,
    TaskUpdate,
)
from mcos.domain.kanban import TaskStatus
from mcos.services import tasks
from mcos.services.store import Store

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


@router.get(
    "",
    response_model=TaskList,
    responses=errors(),
    summary="Tasks, oldest first; page with after_id",
)
async def list_tasks(
    store: CurrentStore,
    _: CurrentPrincipal,
    status: TaskStatus | None = None,
    assignee: AgentName | None = None,
    limit: Annotated[int, Query(ge=1, le=5_000)] = 500,
    after_id: AfterRowId = 0,
) -> JSON:
    items = await store.read(
        lambda conn: tasks.list_tasks(
            conn,
            status=status.value if status else None,
            assignee=assignee,
            limit=limit,
            after_id=after_id,
        )
    )
    return JSON({"tasks": items})


@router.post(
    "",
    response_model=Task,
    responses=errors(409),
    status_code=201,
    summary="Create a task (in the inbox, or assigned)",
)
async def create_task(body: TaskCreate, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    return JSON(await store.write(tasks.create_task, principal, body), status_code=201)


@router.get(
    "/{task_id}",
    response_model=Task,
    responses=errors(404),
    summary="One task with its dependencies and full history",
)
async def show_task(task_id: TaskId, store: CurrentStore, _: CurrentPrincipal) -> JSON:
    return JSON(await store.read(tasks.get_task, task_id))


@router.patch(
    "/{task_id}",
    response_model=Task,
    responses=errors(404),
    summary="Change title, description, kind, priority or due date",
)
async def update_task(
    task_id: TaskId, body: TaskUpdate, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(await store.write(tasks.update_task, principal, task_id, body))


@router.post(
    "/{task_id}/move",
    response_model=Task,
    summary="Move the card to another column",
    responses=errors(404, 409, s409="The Kanban rules refuse this move; the message says why"),
    openapi_extra=documented_body(TaskMove, bearer=False),
)
async def move_task(task_id: TaskId, request: Request, principal: CurrentPrincipal) -> JSON:
    # Every task an agent works moves twice: its body is read by hand (api/body.py).
    body = await json_body(request, TaskMove)
    store: Store = request.app.state.store
    return JSON(await store.write(tasks.move_task, principal, task_id, body))


@router.post(
    "/{task_id}/assign",
    response_model=Task,
    responses=errors(404, 409),
    summary="Assign or unassign",
)
async def assign_task(
    task_id: TaskId, body: TaskAssign, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(await store.write(tasks.assign_task, principal, task_id, body))


@router.post(
    "/{task_id}/comments",
    response_model=Comment,
    responses=errors(404, 409),
    status_code=201,
    summary="Comment on a task",
    openapi_extra=documented_body(TaskComment, bearer=False),
)
async def comment_task(task_id: TaskId, request: Request, principal: CurrentPrincipal) -> JSON:
    # Every task an agent finishes is commented on: its body is read by hand (api/body.py).
    body = await json_body(request, TaskComment)
    store: Store = request.app.state.store
    return JSON(await store.write(tasks.comment_task, principal, task_id, body), status_code=201)
