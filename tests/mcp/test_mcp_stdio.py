"""``mcos mcp`` when the control plane goes away under it: the model is told, nothing crashes."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp_types import CallToolResult

from tests.fixtures.server import running_server
from tests.mcp.conftest import mcp_session


def test_a_control_plane_that_stopped_is_a_tool_error_and_the_session_lives_on(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path, f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}") as server:
        token = server.agent_token("flow")

        async def run() -> tuple[CallToolResult, CallToolResult]:
            async with mcp_session(server, "stdio", token, "flow") as session:
                server.stop()
                down = await session.call_tool("heartbeat", {"status": "working"})
                server.start()
                back = await session.call_tool("heartbeat", {"status": "working"})
                return down, back

        down, back = anyio.run(run)
    assert down.is_error
    assert down.structured_content is not None
    error = down.structured_content["error"]
    assert error["code"] == "control_plane_unreachable", error
    assert "Traceback" not in str(down.content)
    assert not back.is_error, "the same session goes on once the control plane is back"
