"""``mcos mcp --agent NAME``: the MCP tools over stdio, for MCP clients that spawn a process.

The same tools as ``/mcp`` on ``mcos serve`` (:mod:`mcos.mcp.tools`), each a call to the control
plane's REST API at ``--url``/``MCOS_URL`` with ``--token``/``MCOS_TOKEN``: an agent token, or a
runner token of the agent's machine. Standard output carries the protocol, so everything said
to a person goes to standard error.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import click
import httpx2

from mcos.cli._context import Client, fail, pass_client

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context


@click.command("mcp")
@click.option("--agent", required=True, help="The agent the tools act as (the token's own).")
@pass_client
def mcp(client: Client, agent: str) -> None:
    """Serve the MCP tools over stdio, acting as AGENT with MCOS_TOKEN (an agent token, or a
    runner token of its machine). See docs/mcp.md."""
    if not client.token:
        fail("no token: pass --token or set MCOS_TOKEN to the agent's token", field="--token")
    # The MCP SDK loads here, not with every other `mcos` command (about a second).
    from mcos.mcp.rest import ApiError

    try:
        anyio.run(_serve, client.url, client.token, agent)
    except ApiError as exc:
        fail(exc.message, field=exc.field)


async def _serve(url: str, token: str, agent: str) -> None:
    from mcos.mcp.rest import AgentApi, ApiError
    from mcos.mcp.tools import build_server

    async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
        token_view = await AgentApi(http, token, agent).whoami()
        problem = _acts_as(token_view, agent)
        if problem is not None:
            raise ApiError(403, "forbidden", problem, "--token")
        api = AgentApi(http, token, agent, named=token_view.get("kind") == "runner")
        await api.whoami()  # a runner token: is the agent its machine's?

        @contextlib.asynccontextmanager
        async def connect(_: Context) -> AsyncIterator[AgentApi]:
            yield api

        await build_server(connect).run_stdio_async()


def _acts_as(token_view: dict[str, Any], agent: str) -> str | None:
    """Why a token (``GET /api/v1/tokens/current``) cannot act as ``agent``, or ``None``."""
    kind = token_view.get("kind")
    if kind == "runner":
        return None
    if kind == "agent" and token_view.get("agent") == agent:
        return None
    whose = f"agent {token_view.get('agent')}" if kind == "agent" else f"an {kind}"
    return (
        f"this token is {whose}'s; `mcos mcp --agent {agent}` needs agent {agent}'s own token "
        f"(`mcos agents token {agent}`) or a runner token of its machine"
    )
