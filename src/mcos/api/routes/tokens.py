"""/api/v1/tokens: who holds a token, for how long, and taking it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request

from mcos.api.auth import CurrentPrincipal, CurrentStore, ReaderPrincipal
from mcos.api.responses import JSON
from mcos.contract.agent import Principal, Token
from mcos.contract.errors import errors
from mcos.contract.requests import TokenIssue, TokenRotate
from mcos.contract.work import IssuedToken, TokenList
from mcos.errors import NotFound
from mcos.services import tokens
from mcos.services.access import require_operator

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _forget_cached(request: Request) -> None:
    """This replica drops its cache at once; others do when the event reaches them."""
    request.app.state.token_cache.clear()


@router.get(
    "",
    response_model=TokenList,
    responses=errors(),
    summary="Tokens: kind, scope, label, expiry (never the token itself)",
)
async def list_tokens(store: CurrentStore, principal: CurrentPrincipal, all: bool = False) -> JSON:
    require_operator(principal, "list tokens")
    now = datetime.now(UTC)
    items = await store.read(lambda conn: tokens.list_tokens(conn, now, everything=all))
    return JSON({"tokens": items})


@router.get(
    "/current",
    response_model=Principal,
    responses=errors(404),
    summary="The token this request was made with: kind, scope, expiry",
)
async def current_token(store: CurrentStore, principal: ReaderPrincipal) -> JSON:
    if principal.token_id is None:
        raise NotFound("this request carries no token")
    view = await store.read(tokens.get_token, principal.token_id, datetime.now(UTC))
    return JSON(view | {"acting_as": principal.actor})


@router.post(
    "",
    response_model=IssuedToken,
    responses=errors(),
    status_code=201,
    summary="Issue a token (operators); it is shown once",
)
async def issue_token(body: TokenIssue, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    require_operator(principal, "issue tokens")
    lifetime: timedelta | Literal["default"] | None = "default"
    if "expires_in_days" in body.model_fields_set:
        lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None

    token, view = await store.write(
        tokens.issue,
        body.kind,
        fleet=store.fleet,
        agent=body.agent,
        machine=body.machine,
        label=body.label,
        lifetime=lifetime,
        actor=principal.actor,
    )
    return JSON(view | {"token": token, "note": "shown once; only its hash is stored"}, 201)


@router.post(
    "/{token_id}/revoke",
    response_model=Token,
    responses=errors(404, 409),
    summary="Revoke a token: its next request is refused",
)
async def revoke_token(
    token_id: TokenId, request: Request, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    require_operator(principal, "revoke tokens")
    view = await store.write(tokens.revoke_token, token_id, principal.actor)
    _forget_cached(request)
    return JSON(view)


@router.post(
    "/{token_id}/rotate",
    response_model=IssuedToken,
    responses=errors(404, 409),
    status_code=201,
    summary="Replace a token with a new one of the same scope; the old one stops (after a grace)",
)
async def rotate_token(
    token_id: TokenId,
    body: TokenRotate,
    request: Request,
    store: CurrentStore,
    principal: CurrentPrincipal,
) -> JSON:
    require_operator(principal, "rotate tokens")
    grace = timedelta(minutes=body.grace_minutes)
    token, view = await store.write(
        tokens.rotate_token, store.fleet, token_id, principal.actor, grace
    )
    _forget_cached(request)
    return JSON(view | {"token": token, "note": "shown once; only its hash is stored"}, 201)
