"""The dashboard's page, its static files, its sign-in and the reads it is built from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.api.session import SESSION_COOKIE, SESSION_SECONDS, check_csrf, check_origin, csrf_token
from mcos.errors import Forbidden, Unauthorized
from mcos.schemas import AgentName, SessionIn
from mcos.services import dashboard
from mcos.services.access import Principal, require_operator
from mcos.services.tokens import resolve_token

STATIC = Path(__file__).parent / "static"
# Our own scripts and styles only: nothing from another origin, no inline script, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"])


def _session_body(principal: Principal, token: str) -> dict[str, str]:
    return {"operator": principal.name, "csrf": csrf_token(token)}


@router.post("/session", summary="Sign in to the dashboard with an operator token")
async def sign_in(body: SessionIn, request: Request, store: CurrentStore) -> JSON:
    check_origin(request)
    principal = await store.read(resolve_token, body.token)
    if principal is None:
        raise Unauthorized("unknown or revoked token", field="token")
    if not principal.is_operator:
        raise Forbidden(
            f"this is agent {principal.name!r}'s token; agent tokens cannot use the dashboard. "
            "Sign in with an operator token (`mcos serve --show-token` prints it)",
            field="token",
        )
    response = JSON(_session_body(principal, body.token))
    response.set_cookie(
        SESSION_COOKIE,
        body.token,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/session", summary="Who is signed in, and the CSRF token for state changes")
async def session(request: Request, principal: CurrentPrincipal) -> JSON:
    token = request.cookies.get(SESSION_COOKIE)
    if token is None:
        raise Unauthorized("not signed in to the dashboard", field=SESSION_COOKIE)
    return JSON(_session_body(principal, token))


@router.delete("/session", status_code=204, summary="Sign out of the dashboard")
async def sign_out(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        check_csrf(request, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/snapshot", summary="Everything the dashboard's first view needs, with last_seq")
async def snapshot(store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    require_operator(principal, "read the dashboard")
    now = datetime.now(UTC)
    return JSON(await store.read(dashboard.snapshot, store.fleet, now, principal.name))


@router.get("/series", summary="Tokens, cost and calls per hour; heartbeats missed")
async def series(
    store: CurrentStore,
    principal: CurrentPrincipal,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> JSON:
    require_operator(principal, "read the dashboard")
    now = datetime.now(UTC)
    return JSON(await store.read(dashboard.series, now, hours))


@router.get("/agents/{name}", summary="One agent's page: gauge history, calls, notes, denials")
async def agent_page(name: AgentName, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    require_operator(principal, "read the dashboard")
    now = datetime.now(UTC)
    return JSON(await store.read(dashboard.agent_page, store.fleet, name, now))


def install_dashboard(app: FastAPI) -> None:
    """Serve the page at ``/``, its files under ``/static`` and its API."""
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
