"""/api/v1/reports: a runtime's queued reports in one request, each answered as its own route
would answer it (:mod:`mcos.services.reports`).

Only reports, never questions: usage, memory flushes and compactions, task moves and comments,
events of the agent's own, and actions the runtime already decided by the same policy engine
(``acted``). Any other path is answered ``not_attempted``, and the outbox sends it on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError

from mcos.api.auth import CurrentStore, bearer_token, principal_for, runner_acting_as
from mcos.api.body import documented_body, json_body
from mcos.api.errors import error_from_validation
from mcos.api.responses import JSON
from mcos.contract import paths
from mcos.contract.errors import errors
from mcos.contract.requests import (
    ActionRequest,
    Compaction,
    EventIn,
    MemoryFlush,
    ReportItem,
    ReportsIn,
    TaskComment,
    TaskMove,
    UsageIn,
)
from mcos.contract.work import ReportsResult
from mcos.errors import Forbidden, InvalidInput, McosError, ServiceUnavailable
from mcos.fleet.schema import NAME_PATTERN, Fleet
from mcos.inputs import INT32_MAX
from mcos.services import actions, budgets, events, memory, reports, tasks
from mcos.services.access import Principal
from mcos.storage.writer import WriteContext

router = APIRouter(tags=["runtime"])

Apply = Callable[[WriteContext], Any]


@dataclass(frozen=True)
class Kind:
    """A route whose reports may come bundled, and how its service function is called."""

    path: re.Pattern[str]
    model: type[BaseModel]
    call: Callable[[Fleet, Principal, dict[str, Any], Any], Apply]
    status: int
    takes: Callable[[Any], bool] = lambda body: True
    """Whether this body is a report at all (an action not yet ``acted`` is a question)."""


def _agent_route(suffix: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(paths.AGENTS)}/(?P<name>[^/]+)/{suffix}")


def _task_route(suffix: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(paths.TASKS)}/(?P<task_id>[0-9]{{1,10}})/{suffix}")


KINDS: tuple[Kind, ...] = (
    Kind(
        _agent_route("usage"),
        UsageIn,
        lambda fleet, who, at, body: (
            lambda ctx: budgets.record_usage(ctx, fleet, who, at["name"], body)
        ),
        201,
    ),
    Kind(
        _agent_route("memory"),
        MemoryFlush,
        lambda fleet, who, at, body: (
            lambda ctx: memory.record_flush(ctx, fleet, who, at["name"], body)
        ),
        201,
    ),
    Kind(
        _agent_route("compactions"),
        Compaction,
        lambda fleet, who, at, body: (
            lambda ctx: memory.record_compaction(ctx, fleet, who, at["name"], body)
        ),
        201,
    ),
    Kind(
        _task_route("move"),
        TaskMove,
        lambda fleet, who, at, body: lambda ctx: tasks.move_task(ctx, who, at["task_id"], body),
        200,
    ),
    Kind(
        _task_route("comments"),
        TaskComment,
        lambda fleet, who, at, body: lambda ctx: tasks.comment_task(ctx, who, at["task_id"], body),
        201,
    ),
    Kind(
        re.compile(re.escape(paths.ACTIONS)),
        ActionRequest,
        lambda fleet, who, at, body: lambda ctx: actions.check_action(ctx, fleet, who, body),
        200,
        takes=lambda body: bool(body.acted),
    ),
    Kind(
        re.compile(re.escape(paths.EVENTS)),
        EventIn,
        lambda fleet, who, at, body: lambda ctx: events.post_event(ctx, who, body),
        201,
    ),
)


@router.post(
    paths.REPORTS,
    response_model=ReportsResult,
    responses=errors(403),
    summary="A runtime's queued reports (usage, moves, comments, decided actions) in one commit",
    openapi_extra=documented_body(ReportsIn),
)
async def post_reports(request: Request, store: CurrentStore) -> JSON:
    caller = await principal_for(request, bearer_token(request), allow_runner=True)
    if caller.kind not in ("runner", "agent"):
        raise Forbidden(
            "reports come from a runtime: send them with a runner's or an agent's token",
            field="Authorization",
        )
    body = await json_body(request, ReportsIn)
    prepared = [
        prepare(store.fleet, caller, index, item) for index, item in enumerate(body.reports)
    ]
    return JSON(await store.write(reports.apply_reports, prepared))


def prepare(fleet: Fleet, caller: Principal, index: int, item: ReportItem) -> reports.Prepared:
    """The report checked as its route would check it, or the error it would have answered."""
    where = f"reports[{index}]"
    agent = item.agent or caller.name
    try:
        who = _acting(fleet, caller, item.agent, f"{where}.agent")
    except McosError as exc:
        return reports.Prepared(agent, None, 0, exc)
    for kind in KINDS:
        found = kind.path.fullmatch(item.path)
        if found is None:
            continue
        try:
            at = _path_params(found, f"{where}.path")
            body = kind.model.model_validate_json(orjson.dumps(item.body))
        except ValidationError as exc:
            error = error_from_validation(list(exc.errors()))
            error.field = f"{where}.body" + (f".{error.field}" if error.field else "")
            return reports.Prepared(agent, None, 0, error)
        except McosError as exc:
            return reports.Prepared(agent, None, 0, exc)
        if kind.takes(body):
            return reports.Prepared(agent, kind.call(fleet, who, at, body), kind.status)
        break
    alone = ServiceUnavailable(
        f"{item.path} is not taken in a bundle: send it on its own", code=reports.NOT_ATTEMPTED
    )
    return reports.Prepared(agent, None, 0, alone, stops_lane=True)


def _acting(fleet: Fleet, caller: Principal, named: str | None, field: str) -> Principal:
    if caller.kind == "agent":
        if named is not None and named != caller.name:
            raise Forbidden(
                f"agent {caller.name!r} reports only as itself, not as {named!r}", field=field
            )
        return caller
    if named is None:
        raise InvalidInput("a runner's report names the agent it is for", field=field)
    return runner_acting_as(caller.machine or "", caller.token_id, named, fleet, field)


def _path_params(found: re.Match[str], field: str) -> dict[str, Any]:
    at: dict[str, Any] = dict(found.groupdict())
    if "name" in at and not re.fullmatch(NAME_PATTERN, at["name"]):
        raise InvalidInput(f"no agent can be named {at['name']!r}", field=field)
    if "task_id" in at:
        at["task_id"] = int(at["task_id"])
        if not 1 <= at["task_id"] <= INT32_MAX:
            raise InvalidInput(f"no task has the id {at['task_id']}", field=field)
    return at
