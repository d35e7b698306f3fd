"""Bearer-token authentication: agent tokens, runner tokens, operator tokens, and the dashboard's
session cookie.

A runner token acts as one agent of its machine, named in the ``X-MCOS-Agent`` header; without
the header it may only follow the event stream (routes that take :data:`ReaderPrincipal`).
Every other route refuses it, so no service ever sees a runner as anything but an agent.

An operator token (or session) carries its person's role, checked here once for every route
(:func:`check_role`): a viewer changes nothing, an approver everything but :data:`OWNER_ONLY`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mcos.api.session import SAFE_METHODS, SESSION_COOKIE, check_csrf
from mcos.errors import Forbidden, InvalidInput, Unauthorized
from mcos.fleet.schema import Fleet
from mcos.services.access import Principal
from mcos.services.store import Store
from mcos.services.tokens import TokenCache, TokenRecord, resolve_session, resolve_token

bearer = HTTPBearer(
    auto_error=False, description="An agent token, a runner token or an operator token."
)
AGENT_HEADER = "X-MCOS-Agent"
"""With a runner token: the agent of the runner's machine that the request acts as."""
OWNER_ONLY = frozenset(
    {
        "POST /api/v1/tokens",
        "POST /api/v1/tokens/{token_id}/revoke",
        "POST /api/v1/tokens/{token_id}/rotate",
        "POST /api/v1/agents/{name}/tokens",
        "PATCH /api/v1/agents/{name}/budget",
        "POST /api/v1/operators",
        "PATCH /api/v1/operators/{name}",
        "DELETE /api/v1/operators/{name}",
    }
)
"""The operations (as ``/openapi.json`` names them) only an owner may call: tokens, operators and
budgets. Every other change is open to approvers; no change at all to viewers."""


async def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    return await principal_for(request, credentials.credentials if credentials else None)


async def authenticate_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """As :func:`authenticate`, but a runner token without an agent is let through."""
    return await principal_for(
        request, credentials.credentials if credentials else None, allow_runner=True
    )


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, for routes that skip dependencies."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def principal_for(
    request: Request, token: str | None, *, allow_runner: bool = False
) -> Principal:
    """The caller, by its bearer token or else by the dashboard's session cookie."""
    now = datetime.now(UTC)
    store: Store = request.app.state.store
    if token is None and SESSION_COOKIE in request.cookies:
        secret = request.cookies[SESSION_COOKIE]
        record = await store.read(resolve_session, secret, now) if secret else None
        if record is None:
            raise Unauthorized(
                "the dashboard session has ended (signed out, expired, or its token revoked); "
                "sign in again",
                field=SESSION_COOKIE,
            )
        if request.method not in SAFE_METHODS:
            check_csrf(request, secret)
        principal = Principal("operator", record.label, token_id=record.id, role=record.role)
        check_role(request, principal)
        return principal
    if token is None:
        raise Unauthorized(
            "missing bearer token: send 'Authorization: Bearer <token>' "
            "(`mcos agents token NAME` issues an agent token)",
            field="Authorization",
        )
    cache: TokenCache = request.app.state.token_cache
    record = await cache.lookup(token, now, partial(store.read, resolve_token, token, now))
    if record is None:
        raise Unauthorized("unknown, expired or revoked token", field="Authorization")
    principal = principal_of(record, request.headers.get(AGENT_HEADER), store.fleet, allow_runner)
    check_role(request, principal)
    return principal


def operation_of(request: Request) -> str:
    """The request's operation as ``/openapi.json`` names it: ``POST /api/v1/tokens``."""
    route = request.scope.get("route")
    template = getattr(route, "path", None) or request.url.path
    return f"{request.method} {template}"


def check_role(request: Request, principal: Principal) -> None:
    """The one place a person's role is enforced: a viewer makes no change, an approver none of
    :data:`OWNER_ONLY`. Agents, runners and owners pass (their own rules are the routes'); a
    person with no known role changes nothing, as a viewer."""
    if principal.kind != "operator" or principal.role == "owner":
        return
    if request.method in SAFE_METHODS:
        return
    if principal.role != "approver":
        raise Forbidden(
            f"operator {principal.name!r} is a {principal.role or 'person with no role'}: a "
            f"viewer sees everything and changes nothing ({request.method} refused); an owner "
            f"can give you another role (`mcos operators role {principal.name} approver`)",
            code="read_only_operator",
        )
    operation = operation_of(request)
    if operation in OWNER_ONLY:
        raise Forbidden(
            f"operator {principal.name!r} is an {principal.role}: only an owner may change "
            f"tokens, operators or budgets ({operation} refused)",
            code="owner_only",
        )


def principal_of(
    record: TokenRecord, named: str | None, fleet: Fleet, allow_runner: bool = False
) -> Principal:
    """Who a valid token acts as, given the agent an ``X-MCOS-Agent`` header names."""
    if record.kind == "runner":
        machine = record.machine or ""
        if fleet.machine(machine) is None:
            raise Unauthorized(
                f"runner token for machine {machine!r}, which is no longer in the fleet",
                field="Authorization",
            )
        if named is None:
            if allow_runner:
                return Principal("runner", machine, machine=machine, token_id=record.id)
            raise Forbidden(
                f"a runner token acts only as one of machine {machine!r}'s agents: name it in "
                f"the {AGENT_HEADER} header",
                field=AGENT_HEADER,
            )
        return runner_acting_as(machine, record.id, named, fleet, AGENT_HEADER)
    if named is not None and named != record.agent:
        raise InvalidInput(
            f"only a runner token names the agent it acts as in {AGENT_HEADER}; this is "
            f"{'an operator' if record.kind == 'operator' else 'an agent'}'s token",
            field=AGENT_HEADER,
        )
    if record.kind == "agent":
        return Principal("agent", record.agent or "", token_id=record.id)
    return Principal("operator", record.label, token_id=record.id, role=record.role)


def runner_acting_as(
    machine: str, token_id: int | None, named: str, fleet: Fleet, field: str
) -> Principal:
    """A runner token of ``machine`` acting as agent ``named``, which must run on it."""
    agent = fleet.agent(named)
    if agent is None:
        raise Forbidden(f"no agent named {named!r} in the fleet", field=field)
    if agent.machine != machine:
        raise Forbidden(
            f"agent {named!r} runs on machine {agent.machine!r}; this runner token acts only "
            f"for machine {machine!r}",
            field=field,
        )
    return Principal("agent", named, machine=machine, token_id=token_id)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
ReaderPrincipal = Annotated[Principal, Depends(authenticate_reader)]
CurrentStore = Annotated[Store, Depends(store_of)]
