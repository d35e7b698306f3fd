"""Bearer-token authentication: one token per agent, operator tokens for people."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mcos.api.session import SAFE_METHODS, SESSION_COOKIE, check_csrf
from mcos.errors import Forbidden, Unauthorized
from mcos.services.access import Principal
from mcos.services.store import Store
from mcos.services.tokens import TokenCache, resolve_token

bearer = HTTPBearer(auto_error=False, description="An agent token or an operator token.")


async def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    return await principal_for(request, credentials.credentials if credentials else None)


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, for routes that skip dependencies."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def principal_for(request: Request, token: str | None) -> Principal:
    """The caller, by its bearer token or else by the dashboard's session cookie."""
    from_cookie = token is None and SESSION_COOKIE in request.cookies
    if from_cookie:
        token = request.cookies[SESSION_COOKIE] or None
    if token is None:
        raise Unauthorized(
            "missing bearer token: send 'Authorization: Bearer <token>' "
            "(`mcos agents token NAME` issues an agent token)",
            field="Authorization",
        )
    cache: TokenCache = request.app.state.token_cache
    principal = cache.get(token)
    if principal is None:
        principal = await request.app.state.store.read(resolve_token, token)
        if principal is None:
            raise Unauthorized("unknown or revoked token", field="Authorization")
        cache.put(token, principal)
    if from_cookie:
        if not principal.is_operator:
            raise Forbidden("agent tokens cannot use the dashboard", field="Authorization")
        if request.method not in SAFE_METHODS:
            check_csrf(request, token)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
CurrentStore = Annotated[Store, Depends(store_of)]
