"""``mcos mcp --agent NAME``: the MCP tools over stdio, for MCP clients that spawn a process.

The same tools as ``/mcp`` on ``mcos serve`` (:mod:`mcos.mcp.tools`), each a call to the control
plane's REST API at ``--url``/``MCOS_URL`` with ``--token``/``MCOS_TOKEN``: an agent token, or a
runner token of the agent's machine. Standard output carries the protocol, so everything said
to a person goes to standard error.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
import click

from mcos.cli._context import Client, fail, pass_client
from mcos.client import AsyncClient
from mcos.contract.agent import Principal
from mcos.errors import Forbidden, McosError

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
    try:
        anyio.run(_serve, client.url, client.token, agent)
    except McosError as exc:  # the control plane's refusal or silence, or a token of no use
        fail(exc.message, field=exc.field)


async def _serve(url: str, token: str, agent: str) -> None:
    # The MCP SDK loads here, not with every other `mcos` command (about a second).
    from mcos.mcp.tools import build_server

    async with AsyncClient(url, token) as probe:
        problem = _acts_as(await probe.whoami(), agent)
    if problem is not None:
        raise Forbidden(problem, field="--token")
    async with AsyncClient(url, token, agent=agent) as mc:
        await mc.whoami()  # a runner token: is the agent its machine's?

        @contextlib.asynccontextmanager
        async def connect(_: Context) -> AsyncIterator[AsyncClient]:
            yield mc

        await build_server(connect).run_stdio_async()


def _acts_as(token: Principal, agent: str) -> str | None:
    """Why a token cannot act as ``agent``, or ``None`` (a runner's is checked by asking)."""
    if token.kind == "runner" or (token.kind == "agent" and token.agent == agent):
        return None
    whose = f"agent {token.agent}" if token.kind == "agent" else f"an {token.kind}"
    return (
        f"this token is {whose}'s; `mcos mcp --agent {agent}` needs agent {agent}'s own token "
        f"(`mcos agents token {agent}`) or a runner token of its machine"
    )
