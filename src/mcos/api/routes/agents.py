"""/api/v1/agents: the fleet, heartbeats in, agent tokens out."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from mcos.api.auth import CurrentPrincipal, CurrentStore, bearer_token, principal_for
from mcos.api.body import documented_body, json_body
from mcos.api.responses import JSON
from mcos.contract.agent import HeartbeatAnswer
from mcos.contract.errors import errors
from mcos.contract.fleet import Agent, AgentList, AgentToken, Nudged
from mcos.contract.requests import AgentName, HeartbeatIn, Nudge, TokenCreate
from mcos.domain.events import POLICY_DECIDED
from mcos.errors import InvalidInput
from mcos.fleet.schema import NAME_PATTERN
from mcos.services import agents, tokens
from mcos.services.access import Impersonation, require_fleet_power, require_operator
from mcos.services.heartbeats import HeartbeatItem
from mcos.services.refusals import refuse
from mcos.services.store import Store

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])
AGENT_NAME = re.compile(NAME_PATTERN)


@router.get(
    "",
    response_model=AgentList,
    responses=errors(),
    summary="Every agent with its liveness, gauge and current task",
)
async def list_agents(store: CurrentStore, _: CurrentPrincipal) -> JSON:
    now = datetime.now(UTC)
    items = await store.read(agents.list_agents, store.fleet, now)
    return JSON({"agents": items, "now": now.isoformat()})


@router.get("/{name}", response_model=Agent, responses=errors(404), summary="One agent")
async def show_agent(name: AgentName, store: CurrentStore, _: CurrentPrincipal) -> JSON:
    return JSON(await store.read(agents.get_agent, store.fleet, name, datetime.now(UTC)))


@router.post(
    "/{name}/heartbeat",
    response_model=HeartbeatAnswer,
    summary="Report status and the context gauge; answers with the work waiting",
    responses=errors(404, 409, s409="A heartbeat with this id was already recorded"),
    openapi_extra=documented_body(HeartbeatIn),
)
async def heartbeat(name: str, request: Request) -> JSON:
    # The hottest endpoint: read by hand rather than through FastAPI's dependency and body
    # machinery, which would double its cost (bench/ingest.py); documented all the same.
    principal = await principal_for(request, bearer_token(request))
    if not AGENT_NAME.match(name):
        raise InvalidInput(f"{name!r} is not an agent name", field="name")
    store: Store = request.app.state.store
    if principal.kind == "agent" and principal.name != name:
        # Refused, and on the record: who tried to report as whom.
        await store.write(
            refuse,
            Impersonation(principal, name),
            POLICY_DECIDED,
            principal.actor,
            f"agent:{principal.name}",
            {
                "agent": principal.name,
                "as_agent": name,
                "outcome": "deny",
                "rule": "impersonation",
                "action": {"kind": "agent.heartbeat"},
            },
        )
    body = await json_body(request, HeartbeatIn)
    return JSON(await store.record_heartbeat(HeartbeatItem(name, body, principal.actor)))


@router.post(
    "/{name}/nudge",
    response_model=Nudged,
    responses=errors(404),
    summary="Wake an agent now (operators, orchestrator), rather than at its next heartbeat",
)
async def nudge_agent(
    name: AgentName, body: Nudge, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    require_fleet_power(store.fleet, principal, "nudge agents")

    return JSON(await store.write(agents.nudge_agent, name, body.reason, principal.actor))


@router.post(
    "/{name}/tokens",
    response_model=AgentToken,
    responses=errors(404),
    status_code=201,
    summary="Issue a token for this agent (once)",
)
async def issue_agent_token(
    name: AgentName, body: TokenCreate, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    require_operator(principal, "issue agent tokens")

    token: str = await store.write(
        tokens.issue_token, "agent", agent=name, label=body.label, actor=principal.actor
    )
    payload: dict[str, Any] = {
        "agent": name,
        "token": token,
        "note": "shown once; only its hash is stored",
    }
    return JSON(payload, status_code=201)
