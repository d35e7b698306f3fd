"""/api/v1/notify: the notify channels with their health, recent deliveries, a test send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.work import NotifyOverview, NotifyTest
from mcos.fleet.notify import NAME_PATTERN
from mcos.notify.dispatcher import NotifyDispatcher
from mcos.services import notify
from mcos.services.access import require_operator

router = APIRouter(prefix="/api/v1/notify", tags=["notify"])


@router.get(
    "",
    response_model=NotifyOverview,
    responses=errors(),
    summary="The notify channels (status, failing since, last error) and recent deliveries",
    description="Operators only.",
)
async def list_notify(
    store: CurrentStore,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=1_000, description="Recent deliveries shown")] = 50,
) -> JSON:
    require_operator(principal, "list notify channels")
    return JSON(await store.read(notify.notify_overview, store.fleet, limit))


@router.post(
    "/{name}/test",
    response_model=NotifyTest,
    responses=errors(404),
    summary="Send a test notification through a channel now (operators)",
    description="Answers whether it arrived (`ok`, `error`); recorded as `notify.sent` or "
    "`notify.failed` with `test`, and a failing channel that works again recovers.",
)
async def test_channel(
    name: Annotated[str, Path(pattern=NAME_PATTERN)],
    request: Request,
    principal: CurrentPrincipal,
) -> JSON:
    dispatcher: NotifyDispatcher = request.app.state.notify
    return JSON(await dispatcher.send_test(principal, name))
