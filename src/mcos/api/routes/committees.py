"""/api/v1/committees: a decision put to named agents (and the operator), and their positions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.params import CommitteeId
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.requests import CommitteeOpen, PositionIn
from mcos.contract.work import Committee, CommitteeList
from mcos.services import committees

router = APIRouter(prefix="/api/v1", tags=["committees"])


@router.post(
    "/committees",
    response_model=Committee,
    responses=errors(404, 409),
    status_code=201,
    summary="Open a committee (operators and the orchestrator); its members are told to vote",
)
async def open_committee(
    body: CommitteeOpen, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(committees.open_committee, store.fleet, principal, body),
        status_code=201,
    )


@router.get(
    "/committees",
    response_model=CommitteeList,
    responses=errors(),
    summary="Committees, newest first (agents: those they sit on)",
)
async def list_committees(
    store: CurrentStore,
    principal: CurrentPrincipal,
    status: Literal["open", "decided", "no_quorum"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 200,
) -> JSON:
    items = await store.read(
        lambda conn: committees.list_committees(conn, principal, status=status, limit=limit)
    )
    return JSON({"committees": items})


@router.get(
    "/committees/{committee_id}",
    response_model=Committee,
    responses=errors(404),
    summary="One committee: positions, tally, minutes",
)
async def show_committee(
    committee_id: CommitteeId, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(await store.read(committees.get_committee, principal, committee_id))


@router.post(
    "/committees/{committee_id}/positions",
    response_model=Committee,
    responses=errors(404, 409),
    summary="Give a position with reasons: an agent as itself, an operator as 'human'; final",
)
async def give_position(
    committee_id: CommitteeId, body: PositionIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(committees.give_position, store.fleet, principal, committee_id, body)
    )
