"""/api/v1/briefing: the last day of the fleet, for the operator's morning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.services import briefing
from mcos.services.access import require_operator

router = APIRouter(prefix="/api/v1", tags=["briefing"])


@router.get(
    "/briefing",
    summary="The morning briefing: work, incidents, decisions waiting, spend, misbehaviour, plans",
    description="Every figure is read from the data. `markdown` is the same briefing as text.",
)
async def show_briefing(
    store: CurrentStore,
    principal: CurrentPrincipal,
    hours: Annotated[int, Query(ge=1, le=24 * 31, description="How far back to look")] = 24,
) -> JSON:
    # Operators only: it lists unconfirmed incidents, which reach no agent.
    require_operator(principal, "read the briefing")
    now = datetime.now(UTC)
    data = await store.read(briefing.briefing, store.fleet, now, hours)
    return JSON(data | {"markdown": briefing.to_markdown(data)})
