"""The MCP server, driven by the ``mcp`` SDK's own client over both transports against a real
``mcos serve``: an MCP agent is governed exactly as a REST (or native) one is."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp_types import CallToolResult, TextContent

from tests.fixtures.server import Server
from tests.mcp.conftest import mcp_session

TRANSPORTS = ["http", "stdio"]
TOOLS = {
    "my_tasks",
    "show_task",
    "move_task",
    "comment_on_task",
    "ask_before_acting",
    "wait_for_approval",
    "raise_incident",
    "report_usage",
    "flush_memory",
    "send_message",
    "heartbeat",
}


def text_of(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


def data_of(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


def call(
    server: Server, transport: str, agent: str, *calls: tuple[str, dict[str, Any]]
) -> list[CallToolResult]:
    """Call tools in order in one MCP session acting as ``agent`` (with its own token)."""
    token = server.agent_token(agent)

    async def run() -> list[CallToolResult]:
        async with mcp_session(server, transport, token, agent) as session:
            return [await session.call_tool(name, arguments) for name, arguments in calls]

    return anyio.run(run)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_lists_the_tools_with_descriptions_for_a_model(plane: Server, transport: str) -> None:
    token = plane.agent_token("donna")

    async def run() -> list[Any]:
        async with mcp_session(plane, transport, token, "donna") as session:
            return list((await session.list_tools()).tools)

    tools = anyio.run(run)
    assert {tool.name for tool in tools} == TOOLS
    for tool in tools:
        assert tool.description and len(tool.description) > 30, tool.name
    asking = next(tool for tool in tools if tool.name == "ask_before_acting")
    assert asking.input_schema["required"] == ["kind"], "the exact action starts with its kind"
