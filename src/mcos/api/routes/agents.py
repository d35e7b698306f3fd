"""/api/v1/agents: the fleet, heartbeats in, agent tokens out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.schemas import AgentName, HeartbeatIn, TokenCreate
from mcos.services import agents, tokens
from mcos.services.access import require_operator, require_self
from mcos.services.heartbeats import HeartbeatItem
from mcos.storage.writer import WriteContext

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


@router.get("", summary="Every agent with its liveness, gauge and current task")
async def list_agents(store: CurrentStore, _: CurrentPrincipal) -> JSON:
    now = datetime.now(UTC)
    items = await store.read(agents.list_agents, store.fleet, now)
    return JSON({"agents": items, "now": now.isoformat()})


@router.get("/{name}", summary="One agent")
async def show_agent(name: AgentName, store: CurrentStore, _: CurrentPrincipal) -> JSON:
    return JSON(await store.read(agents.get_agent, store.fleet, name, datetime.now(UTC)))


@router.post(
    "/{name}/heartbeat",
    summary="Report status and the context gauge; answers with the work waiting",
    responses={409: {"description": "A heartbeat with this id was already recorded"}},
)
async def heartbeat(
    name: AgentName, body: HeartbeatIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    require_self(principal, name)
    answer = await store.record_heartbeat(HeartbeatItem(name, body, principal.actor))
    return JSON(answer)


@router.post("/{name}/tokens", status_code=201, summary="Issue a token for this agent (once)")
async def issue_agent_token(
    name: AgentName, body: TokenCreate, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    require_operator(principal, "issue agent tokens")

    def unit(ctx: WriteContext) -> str:
        return tokens.issue_token(ctx, "agent", agent=name, label=body.label, actor=principal.actor)

    token = await store.writer.submit(unit)
    payload: dict[str, Any] = {
        "agent": name,
        "token": token,
        "note": "shown once; only its hash is stored",
    }
    return JSON(payload, status_code=201)
