"""/api/v1/registry: the entity registry (``registry.toml`` beside the fleet file), read-only.

Every authenticated caller may read it, operators and agents alike; nothing writes it over the
API (the file is edited and reviewed in git, and read when the control plane starts). Identity
and passport numbers are shown in full to operators and to agents with the ``personal_data``
capability, masked to the last four characters for every other agent (docs/security.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.params import SearchText
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.work import Company, Person, RegistryView
from mcos.errors import NotFound
from mcos.fleet.registry import KEY_PATTERN, Registry
from mcos.fleet.registry_view import (
    PERSONAL_DATA,
    company_json,
    person_detail,
    registry_json,
)
from mcos.services.access import Principal
from mcos.services.store import Store

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])

EntityKey = Annotated[str, Path(pattern=KEY_PATTERN, description="The entry's key")]


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def sees_personal_data(principal: Principal, store: Store) -> bool:
    """The operator, and agents whose fleet entry lists the ``personal_data`` capability."""
    if principal.is_operator:
        return True
    agent = store.fleet.agent(principal.name) if principal.kind == "agent" else None
    return agent is not None and PERSONAL_DATA in agent.capabilities


@router.get(
    "",
    response_model=RegistryView,
    responses=errors(),
    summary="The entity registry: companies (facts, directors, signatories) and people",
    description="Everyone authenticated may read it. With `q`, only the entries it names: "
    "an exact key or name (case ignored) if any, otherwise every entry whose key or names "
    "contain it. ID and passport numbers are masked unless the caller may see personal data "
    "(`personal_data` says which).",
)
async def read_registry(
    request: Request,
    store: CurrentStore,
    principal: CurrentPrincipal,
    q: Annotated[SearchText | None, Query(min_length=1, max_length=200)] = None,
) -> JSON:
    return JSON(
        registry_json(
            _registry(request),
            personal_data=sees_personal_data(principal, store),
            query=q,
        )
    )


@router.get(
    "/companies/{key}",
    response_model=Company,
    responses=errors(404),
    summary="One company: its facts, directors and signatories",
)
async def read_company(request: Request, key: EntityKey, principal: CurrentPrincipal) -> JSON:
    registry = _registry(request)
    company = registry.company(key)
    if company is None:
        raise NotFound(f"no company {key!r} in the entity registry (registry.toml)", field="key")
    return JSON(company_json(registry, company))


@router.get(
    "/people/{key}",
    response_model=Person,
    responses=errors(404),
    summary="One person, and the companies they direct or sign for",
)
async def read_person(
    request: Request, key: EntityKey, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    registry = _registry(request)
    person = registry.person(key)
    if person is None:
        raise NotFound(f"no person {key!r} in the entity registry (registry.toml)", field="key")
    return JSON(person_detail(registry, person, personal_data=sees_personal_data(principal, store)))
