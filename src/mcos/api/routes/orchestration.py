"""/api/v1/route and /api/v1/agents/{name}/suspend|resume: the orchestrator's fleet actions.

Operators and agents whose fleet role is ``orchestrator`` may use them; no other agent.
"""

from __future__ import annotations

from fastapi import APIRouter

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.fleet import Routed, Suspended
from mcos.contract.requests import AgentName, RouteRequest, Suspension
from mcos.services import routing, suspension

router = APIRouter(prefix="/api/v1", tags=["orchestration"])


@router.post(
    "/route",
    response_model=Routed,
    responses=errors(409),
    summary="Route a request to the agent whose role and capabilities fit, saying why",
    description="Creates the task assigned to the chosen agent (or left in the inbox when "
    "nobody fits) unless `dry_run`; the decision and its reasons are a `routing.decided` event.",
)
async def route_request(
    body: RouteRequest, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(await store.write(routing.route_request, store.fleet, principal, body))


@router.post(
    "/agents/{name}/suspend",
    response_model=Suspended,
    responses=errors(404, 409),
    summary="Suspend an agent: it makes no model call until resumed (operators, orchestrator)",
)
async def suspend_agent(
    name: AgentName, body: Suspension, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(suspension.suspend_agent, store.fleet, principal, name, body.reason)
    )


@router.post(
    "/agents/{name}/resume",
    response_model=Suspended,
    responses=errors(404, 409),
    summary="Resume a suspended agent (operators, orchestrator); a budget pause is not lifted",
)
async def resume_agent(
    name: AgentName, body: Suspension, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(suspension.resume_agent, store.fleet, principal, name, body.reason)
    )
