"""/api/v1/briefing: the last day of the fleet, for the operator's morning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Connection

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.fleet import Briefing
from mcos.services import briefing
from mcos.services.access import require_fleet_power
from mcos.services.written_briefing import with_written, written_briefing

router = APIRouter(prefix="/api/v1", tags=["briefing"])


@router.get(
    "/briefing",
    response_model=Briefing,
    responses=errors(),
    summary="The morning briefing: work, incidents, decisions waiting, spend, misbehaviour, plans",
    description="Every figure is read from the data. `written` is the latest briefing the "
    "orchestrator's model wrote (a done task of kind `briefing`), or null; `markdown` puts it "
    "first, marked as written by the model, then the data's sections unchanged (alone in "
    "`data_markdown`).",
)
async def show_briefing(
    store: CurrentStore,
    principal: CurrentPrincipal,
    hours: Annotated[int, Query(ge=1, le=24 * 31, description="How far back to look")] = 24,
) -> JSON:
    # Operators and the orchestrator only. The orchestrator writes it for the operator and sees
    # only the incidents that reach it (those it confirms among the unconfirmed ones).
    require_fleet_power(store.fleet, principal, "read the briefing")
    now = datetime.now(UTC)

    def read(conn: Connection) -> dict[str, Any]:
        reader = principal.name if principal.kind == "agent" else None
        data = briefing.briefing(conn, store.fleet, now, hours, reader=reader)
        markdown = briefing.to_markdown(data)
        written = written_briefing(conn, store.fleet, data, markdown)
        return data | {
            "written": written,
            "markdown": with_written(written, markdown),
            "data_markdown": markdown,
        }

    return JSON(await store.read(read))
