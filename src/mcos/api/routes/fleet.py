"""/api/v1/fleet: the fleet file as the caller may see it, with its version.

Runners build their fleet from it (``mcos run --url --token``) and poll it with
``If-None-Match``; see :mod:`mcos.fleet.view` for what each kind of caller sees.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mcos.api.auth import CurrentStore, ReaderPrincipal
from mcos.api.responses import JSON
from mcos.contract import paths
from mcos.contract.errors import errors
from mcos.contract.fleet import FleetView
from mcos.errors import Forbidden, NotFound
from mcos.fleet.schema import NAME_PATTERN
from mcos.fleet.view import fleet_view, view_version

router = APIRouter(prefix=paths.FLEET, tags=["fleet"])
MachineName = Annotated[
    str | None,
    Query(pattern=NAME_PATTERN, description="Operators: the view a runner of this machine gets"),
]


@router.get(
    "",
    summary="The fleet file as this caller sees it (operator: all; runner: its machine; agent: "
    "itself), never a secret, with its version as ETag",
    response_model=FleetView,
    responses={
        **errors(403, 404),
        304: {"description": "Not modified: the version in If-None-Match is current"},
    },
)
async def get_fleet(
    request: Request, store: CurrentStore, principal: ReaderPrincipal, machine: MachineName = None
) -> Response:
    fleet = store.fleet
    agent: str | None = None
    if principal.kind == "operator":
        if machine is not None and fleet.machine(machine) is None:
            raise NotFound(f"no machine named {machine!r} in the fleet", field="machine")
        scope = "machine" if machine else "fleet"
    elif principal.kind == "runner":
        if machine not in (None, principal.machine):
            raise Forbidden(
                f"this runner token is for machine {principal.machine!r}, not {machine!r}",
                field="machine",
            )
        machine, scope = principal.machine, "machine"
    else:
        if machine is not None:
            raise Forbidden(
                "an agent's token reads its own agent's view only; leave out machine",
                field="machine",
            )
        config = fleet.agent(principal.name)
        if config is None:  # removed from the fleet since its token was issued
            raise NotFound(f"agent {principal.name!r} is no longer in the fleet")
        agent, machine, scope = principal.name, config.machine, "agent"
    doc = fleet_view(fleet, machine=machine, agent=agent)
    version = view_version(doc)
    etag = f'"{version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    body: dict[str, Any] = {
        "version": version,
        "scope": scope,
        "machine": machine,
        "agent": agent,
        "fleet": doc,
    }
    return JSON(body, headers=headers)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags
