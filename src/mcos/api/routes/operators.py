"""/api/v1/operators: the people who run the fleet, their roles, adding and removing them.

Reads are open to every operator; changes are an owner's (``api/auth.py`` ``OWNER_ONLY``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.requests import OperatorAdd, OperatorRoleChange
from mcos.contract.vocab import OPERATOR_NAME_PATTERN
from mcos.contract.work import AddedOperator, Operator, OperatorList
from mcos.services import operators
from mcos.services.access import require_operator

router = APIRouter(prefix="/api/v1/operators", tags=["operators"])
OperatorName = Annotated[str, Path(pattern=OPERATOR_NAME_PATTERN)]


def _forget_cached(request: Request) -> None:
    """Roles are cached with tokens: this replica forgets at once, others on the event."""
    request.app.state.token_cache.clear()


@router.get(
    "",
    response_model=OperatorList,
    responses=errors(),
    summary="The people who run the fleet, with their roles",
)
async def list_operators(store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    require_operator(principal, "list operators")
    now = datetime.now(UTC)
    return JSON({"operators": await store.read(operators.list_operators, now)})


@router.post(
    "",
    response_model=AddedOperator,
    responses=errors(409),
    status_code=201,
    summary="Add a person with a role (owners); their first token is shown once",
)
async def add_operator(body: OperatorAdd, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    require_operator(principal, "add operators")
    token, view = await store.write(operators.add_operator, body.name, body.role, principal.actor)
    return JSON(view | {"token": token, "note": "shown once; only its hash is stored"}, 201)


@router.patch(
    "/{name}",
    response_model=Operator,
    responses=errors(404, 409),
    summary="Change a person's role (owners); refused for the last owner",
)
async def change_role(
    name: OperatorName,
    body: OperatorRoleChange,
    request: Request,
    store: CurrentStore,
    principal: CurrentPrincipal,
) -> JSON:
    require_operator(principal, "change roles")
    view = await store.write(operators.set_role, name, body.role, principal.actor, store.fleet)
    _forget_cached(request)
    return JSON(view)


@router.delete(
    "/{name}",
    response_model=Operator,
    responses=errors(404, 409),
    summary="Remove a person and revoke their tokens (owners); refused for the last owner",
)
async def remove_operator(
    name: OperatorName, request: Request, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    require_operator(principal, "remove operators")
    view = await store.write(operators.remove_operator, name, principal.actor, store.fleet)
    _forget_cached(request)
    return JSON(view)
