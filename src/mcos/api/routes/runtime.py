"""What a runtime reports about its agent: memory flushes, compactions, rate-limit cooldowns."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.body import documented_body, json_body
from mcos.api.responses import JSON
from mcos.contract.agent import MemoryNote, MemoryNotes, Usage
from mcos.contract.errors import errors
from mcos.contract.fleet import BudgetState, Compacted, Cooling, SetAside
from mcos.contract.requests import (
    AgentName,
    BudgetChange,
    BudgetCheck,
    Compaction,
    Cooldown,
    MemoryFlush,
    SetAsideIn,
    UsageIn,
)
from mcos.services import agents, budgets, memory
from mcos.services.access import require_self
from mcos.services.store import Store

router = APIRouter(prefix="/api/v1/agents/{name}", tags=["runtime"])


@router.post(
    "/memory",
    response_model=MemoryNote,
    responses=errors(404, 409),
    status_code=201,
    summary="Write a memory note (the pre-compaction flush)",
)
async def flush(
    name: AgentName, body: MemoryFlush, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(memory.record_flush, store.fleet, principal, name, body), status_code=201
    )


@router.get(
    "/memory",
    response_model=MemoryNotes,
    responses=errors(404),
    summary="Memory notes by day (default: today and yesterday); an agent reads its own",
)
async def notes(
    name: AgentName,
    store: CurrentStore,
    principal: CurrentPrincipal,
    day: Annotated[
        list[date] | None, Query(max_length=366, description="Repeat for several days")
    ] = None,
) -> JSON:
    require_self(principal, name, field="name")
    days = [d.isoformat() for d in day] if day else None
    items = await store.read(memory.list_notes, store.fleet, name, datetime.now(UTC), days)
    return JSON({"agent": name, "notes": items})


@router.post(
    "/compactions",
    response_model=Compacted,
    responses=errors(404, 409),
    status_code=201,
    summary="Report a compaction; refused (409 flush_required) without a memory flush first",
)
async def compaction(
    name: AgentName, body: Compaction, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(memory.record_compaction, store.fleet, principal, name, body),
        status_code=201,
    )


@router.post(
    "/set-aside",
    response_model=SetAside,
    responses=errors(404, 409),
    status_code=201,
    summary="A report the control plane refused for good, set aside by the runtime (its card "
    "shows it)",
)
async def set_aside(
    name: AgentName, body: SetAsideIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(await store.write(agents.record_set_aside, principal, name, body), status_code=201)


@router.post(
    "/cooldown",
    response_model=Cooling,
    responses=errors(404, 409),
    summary="A 429: the agent's one credential waits until retry-after",
)
async def cooldown(
    name: AgentName, body: Cooldown, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(await store.write(memory.record_cooldown, store.fleet, principal, name, body))


@router.post(
    "/usage",
    response_model=Usage,
    responses=errors(404, 409),
    status_code=201,
    summary="Record one LLM call: tokens, cost, latency",
    openapi_extra=documented_body(UsageIn, bearer=False),
)
async def record_usage(name: AgentName, request: Request, principal: CurrentPrincipal) -> JSON:
    # One per model call: its body is read by hand (api/body.py).
    body = await json_body(request, UsageIn)
    store: Store = request.app.state.store
    # Together with the other usage reports of the writer's batch (budgets.record_usages).
    recorded = await store.record_usage(budgets.UsageItem(principal, name, body))
    return JSON(recorded, status_code=201)


@router.post(
    "/budget/check",
    response_model=BudgetState,
    responses=errors(404, 409),
    summary="Before a call: allowed, or refused (409) while paused, cooling down or over budget",
    openapi_extra=documented_body(BudgetCheck, bearer=False),
)
async def check_budget(name: AgentName, request: Request, principal: CurrentPrincipal) -> JSON:
    # Before a model call whenever the runtime's lease ran out: its body is read by hand.
    body = await json_body(request, BudgetCheck)
    store: Store = request.app.state.store
    return JSON(await store.write(budgets.check_budget, store.fleet, principal, name, body))


@router.patch(
    "/budget",
    response_model=BudgetState,
    responses=errors(404),
    summary="Change an agent's limits (operators); resumes a paused agent",
)
async def change_budget(
    name: AgentName, body: BudgetChange, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(await store.write(budgets.change_budget, store.fleet, principal, name, body))
