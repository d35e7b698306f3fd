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
from mcos.api.routing import add_routes
from mcos.api.session import (
    SESSION_COOKIE,
    check_csrf,
    check_origin,
    cookie_is_secure,
    csrf_token,
)
from mcos.contract.errors import errors
from mcos.contract.requests import AgentName, SessionIn
from mcos.contract.work import AgentPage, DashboardSession, Series, Snapshot
from mcos.errors import Forbidden, Unauthorized
from mcos.services import dashboard, tokens
from mcos.services.access import require_operator
from mcos.services.tokens import resolve_token

STATIC = Path(__file__).parent / "static"

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"])


def _session_body(operator: str, role: str | None, secret: str) -> dict[str, str | None]:
    return {"operator": operator, "role": role, "csrf": csrf_token(secret)}


@router.post(
    "/session",
    response_model=DashboardSession,
    responses=errors(401, 403, s403="Not an operator token, or a request from another origin"),
    summary="Sign in to the dashboard with an operator token",
)
async def sign_in(body: SessionIn, request: Request, store: CurrentStore) -> JSON:
    check_origin(request)
    record = await store.read(resolve_token, body.token, datetime.now(UTC))
    if record is None:
        raise Unauthorized("unknown, expired or revoked token", field="token")
    if record.kind != "operator":
        raise Forbidden(
            f"this is {record.kind} {record.agent or record.machine!r}'s token; only operator "
            "tokens open the dashboard. Sign in with an operator token "
            "(`mcos serve --show-token` prints it)",
            field="token",
        )
    secret, opened = await store.write(tokens.open_session, record)
    response = JSON(_session_body(record.label, record.role, secret))
    ends = datetime.fromisoformat(opened["expires_at"])
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=max(1, int((ends - datetime.now(UTC)).total_seconds())),
        path="/",
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(request),
    )
    return response


@router.get(
    "/session",
    response_model=DashboardSession,
    summary="Who is signed in, and the CSRF token for state changes",
)
async def session(request: Request, principal: CurrentPrincipal) -> JSON:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret is None:
        raise Unauthorized("not signed in to the dashboard", field=SESSION_COOKIE)
    return JSON(_session_body(principal.name, principal.role, secret))


@router.delete(
    "/session",
    status_code=204,
    responses=errors(403, s403="The CSRF token is missing or wrong, or another origin asked"),
    summary="Sign out: the session ends on the server",
)
async def sign_out(request: Request, store: CurrentStore) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        check_csrf(request, secret)
        await store.write(tokens.end_session, secret)
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=cookie_is_secure(request)
    )
    return response


@router.get(
    "/snapshot",
    response_model=Snapshot,
    summary="Everything the dashboard's first view needs, with last_seq",
)
async def snapshot(store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    require_operator(principal, "read the dashboard")
    now = datetime.now(UTC)
    return JSON(
        await store.read(dashboard.snapshot, store.fleet, now, principal.name, principal.role)
    )


@router.get(
    "/series",
    response_model=Series,
    summary="Tokens, cost and calls per hour; heartbeats missed",
)
async def series(
    store: CurrentStore,
    principal: CurrentPrincipal,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> JSON:
    require_operator(principal, "read the dashboard")
    now = datetime.now(UTC)
    return JSON(await store.read(dashboard.series, now, hours))


@router.get(
    "/agents/{name}",
    response_model=AgentPage,
    responses=errors(404),
    summary="One agent's page: gauge history, calls, notes, denials",
)
async def agent_page(name: AgentName, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    require_operator(principal, "read the dashboard")
    now = datetime.now(UTC)
    return JSON(await store.read(dashboard.agent_page, store.fleet, name, now))


def install_dashboard(app: FastAPI) -> None:
    """Serve the page at ``/``, its files under ``/static`` and its API."""
    add_routes(app, router)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
