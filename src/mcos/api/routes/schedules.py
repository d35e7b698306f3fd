"""/api/v1/schedules: the fleet file's schedules, their next and last runs; run one now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.fleet import ScheduleList, ScheduleRun
from mcos.fleet.schema import NAME_PATTERN
from mcos.services import schedules
from mcos.services.access import require_operator

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])


@router.get(
    "",
    response_model=ScheduleList,
    responses=errors(),
    summary="Each schedule: cron, time zone, action, next run, last run and outcome, missed runs",
    description="Operators only. Times are ISO 8601 with the schedule's own UTC offset.",
)
async def list_schedules(store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    require_operator(principal, "list schedules")
    now = datetime.now(UTC)
    items = await store.read(schedules.list_schedules, store.fleet, now)
    return JSON({"schedules": items, "now": now.isoformat()})


@router.post(
    "/{name}/run",
    response_model=ScheduleRun,
    responses=errors(404),
    summary="Run a schedule now (operators); recorded as a run with trigger 'manual'",
)
async def run_schedule(
    name: Annotated[str, Path(pattern=NAME_PATTERN)],
    store: CurrentStore,
    principal: CurrentPrincipal,
) -> JSON:
    return JSON(await store.write(schedules.run_now, store.fleet, principal, name))
