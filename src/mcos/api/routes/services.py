"""/api/v1/services: the watched services' state and history; their runners' reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.requests import RemediationIn, ServiceStateIn
from mcos.contract.work import Remediation, Service, ServiceChange, ServiceList
from mcos.fleet.services import NAME_PATTERN
from mcos.services import service_health, service_watch

router = APIRouter(prefix="/api/v1/services", tags=["services"])
ServiceName = Annotated[str, Path(pattern=NAME_PATTERN)]


@router.get(
    "",
    response_model=ServiceList,
    responses=errors(),
    summary="Watched services: state, since, downtime, uptime, MTTR and outages stopped",
    description="Figures over the last 30 days. Any agent or operator.",
)
async def list_services(store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    now = datetime.now(UTC)
    return JSON(await store.read(service_health.list_services, store.fleet, now))


@router.get(
    "/{name}",
    response_model=Service,
    responses=errors(404),
    summary="One watched service with its outages, remediations and the last diagnosis",
)
async def get_service(name: ServiceName, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    now = datetime.now(UTC)
    return JSON(await store.read(service_health.get_service, store.fleet, name, now))


@router.post(
    "/{name}/state",
    response_model=ServiceChange,
    responses=errors(404, 409),
    summary="A service changed state (its machine's runner only)",
    description="Going down opens an outage, raises an incident at the service's severity "
    "through the escalation table and gives its owner a task with the diagnosis; coming back "
    "closes the outage with its downtime and how it recovered. Only the runner token of the "
    "service's machine, acting as the service's owner.",
)
async def report_state(
    name: ServiceName, body: ServiceStateIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(await store.write(service_watch.report_state, store.fleet, principal, name, body))


@router.post(
    "/{name}/remediations",
    response_model=Remediation,
    responses=errors(404, 409),
    summary="A remedy the runner carried out (its machine's runner only)",
    description="The remedy was asked first (`service.restart` / `service.rollback` at "
    "`POST /api/v1/actions`); this records what it did, against the open outage if any.",
)
async def report_remediation(
    name: ServiceName, body: RemediationIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(service_watch.record_remediation, store.fleet, principal, name, body)
    )
