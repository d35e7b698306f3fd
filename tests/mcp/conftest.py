"""A real ``mcos serve`` per backend, and the ``mcp`` SDK's own client over either transport."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.fixtures.database import own_postgres_database
from tests.fixtures.server import Server, running_server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def plane(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One control plane for a module's tests (they touch different agents and tasks)."""
    folder: Path = tmp_path_factory.mktemp("mcp")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite+pysqlite:///{folder / 'mcos.db'}"
        else:
            url = stack.enter_context(own_postgres_database("mcp"))
        yield stack.enter_context(running_server(folder, url))


@contextlib.asynccontextmanager
async def mcp_session(
    server: Server, transport: str, token: str, agent: str
) -> AsyncIterator[ClientSession]:
    """An initialized MCP session acting as ``agent``: over ``/mcp`` with the token in the
    Authorization header, or by spawning ``mcos mcp --agent`` with it in ``MCOS_TOKEN``."""
    async with contextlib.AsyncExitStack() as stack:
        if transport == "http":
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
            )
            streams = streamable_http_client(server.url + "/mcp", http_client=http)
        else:
            parameters = StdioServerParameters(
                command=sys.executable,
                args=["-m", "mcos", "mcp", "--agent", agent],
                env=server.env | {"MCOS_TOKEN": token},
            )
            streams = stdio_client(parameters)
        read, write = await stack.enter_async_context(streams)
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        yield session
