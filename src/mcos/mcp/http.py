"""``POST /mcp``: the MCP tools over streamable HTTP, on the control plane itself.

Stateless and JSON-answering: every request is complete in itself (no MCP session held in this
replica's memory), so any replica behind a load balancer answers any request. The caller is
authenticated by its bearer token before the MCP layer sees a byte — no token or a bad one is a
401 in the one error shape, an operator token a 403 (MCP acts as an agent) — and each tool then
calls the REST API in-process, through the whole app (its middleware, validation, policy and
audit trail), with that same token.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mcos.api.auth import AGENT_HEADER, bearer_token, principal_for
from mcos.client import AsyncClient
from mcos.contract import paths
from mcos.errors import Forbidden, McosError, ServiceUnavailable
from mcos.mcp.tools import build_server

PATH = paths.MCP
CALLER = "mcos.mcp.caller"
"""The ASGI scope key under which the authenticated caller rides to the tools."""
LOOPBACK = "http://mcos.in-process"
"""The base URL of in-process calls (never resolved: the transport is the app itself)."""

OPENAPI = {
    PATH: {
        "post": {
            "tags": ["mcp"],
            "summary": "MCP over streamable HTTP (stateless, JSON answers), as the token's agent",
            "description": "One JSON-RPC message of the Model Context Protocol; send `Accept: "
            "application/json, text/event-stream`. Each tool calls this API with the same token "
            "(docs/mcp.md). A message MCP cannot read is answered by the MCP SDK with a JSON-RPC "
            "error (400, 406), not this API's error shape.",
            "operationId": "mcp",
            "security": [{"HTTPBearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
            "responses": {
                "200": {
                    "description": "The JSON-RPC answer; a refused tool call is in it",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/JsonRpcAnswer"}
                        }
                    },
                },
                "202": {"description": "A notification, accepted", "x-empty-body": True},
                "401": {"description": "Missing, unknown, expired or revoked token"},
                "403": {
                    "description": "Not an agent: an operator token, or a runner token without "
                    "X-MCOS-Agent or naming another machine's agent"
                },
                "413": {"description": "The request body is too large"},
                "422": {"description": "X-MCOS-Agent sent with an agent's or operator's token"},
                "503": {"description": "The control plane is shutting down; retry"},
            },
        }
    }
}
"""The route's entry in ``/openapi.json`` (a plain ASGI app FastAPI cannot describe)."""


@dataclass(frozen=True)
class Caller:
    token: str
    agent: str
    """The agent the token acts as (its own, or the one a runner token names)."""


class McpEndpoint:
    """The ASGI app at ``/mcp``; :meth:`running` belongs in the control plane's lifespan."""

    def __init__(self) -> None:
        self.manager: StreamableHTTPSessionManager | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve MCP while the app runs (a session manager runs once, so one per lifespan)."""
        server = build_server(_in_process)
        server.streamable_http_app(stateless_http=True, json_response=True)
        manager = server.session_manager
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        token = bearer_token(request)
        # Raised errors reach the app's handlers: the one error shape, before MCP runs.
        principal = await principal_for(request, token)
        if principal.kind != "agent" or token is None:
            raise Forbidden(
                "MCP acts as an agent: connect with an agent token (`mcos agents token NAME`), "
                f"or a runner token naming the agent in {AGENT_HEADER}",
                field="Authorization",
            )
        if self.manager is None:
            raise ServiceUnavailable(
                "the MCP server is not running (the control plane is stopping)"
            )
        scope[CALLER] = Caller(token, principal.name)
        await self.manager.handle_request(scope, receive, send)


@contextlib.asynccontextmanager
async def _in_process(ctx: Context) -> AsyncIterator[AsyncClient]:
    """The caller's client, answered by this same app without leaving the process."""
    request = ctx.request_context.request
    if not isinstance(request, Request) or not isinstance(request.scope.get(CALLER), Caller):
        raise McosError("an MCP tool was called outside an authenticated /mcp request")
    caller: Caller = request.scope[CALLER]
    app: ASGIApp = request.scope["app"]
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url=LOOPBACK, timeout=30) as http:
        # Named in X-MCOS-Agent whatever the token: a runner's needs it, an agent's own name is
        # accepted, and the client need not ask whose token it holds.
        yield AsyncClient(LOOPBACK, caller.token, agent=caller.agent, http=http, retries=0)
