"""Who may use ``/mcp`` and ``mcos mcp``: an agent's own token acts as that agent and no other;
no token or a bad one is refused before the MCP layer runs."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import anyio
import httpx
import pytest

from tests.fixtures.server import Server, error_of
from tests.mcp.conftest import mcp_session

HEARTBEAT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "heartbeat", "arguments": {"status": "working"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def post_mcp(plane: Server, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(plane.url + "/mcp", json=HEARTBEAT, headers=ACCEPT | headers, timeout=30)


def heartbeats_of(plane: Server, agent: str) -> int:
    with plane.client() as operator:
        count: int = operator.get(f"/api/v1/agents/{agent}").json()["heartbeats"]
    return count


@pytest.mark.parametrize(
    ("headers", "status", "field"),
    [
        ({}, 401, "Authorization"),
        ({"Authorization": "Bearer mcos_a_not-a-token"}, 401, "Authorization"),
        ({"Authorization": "Basic ZmxvdzpmbG93"}, 401, "Authorization"),
    ],
    ids=["no-token", "unknown-token", "not-bearer"],
)
def test_no_token_or_a_bad_one_is_401_before_anything_runs(
    plane: Server, headers: dict[str, str], status: int, field: str
) -> None:
    before = heartbeats_of(plane, "flow")
    response = post_mcp(plane, headers)
    assert response.status_code == status, response.text
    assert error_of(response)["field"] == field
    assert error_of(response)["code"] == "unauthorized"
    assert heartbeats_of(plane, "flow") == before


def test_an_operator_token_is_no_agent(plane: Server) -> None:
    response = post_mcp(plane, {"Authorization": f"Bearer {plane.operator_token}"})
    assert response.status_code == 403, response.text
    assert "agent token" in error_of(response)["message"]


def test_a_runner_token_acts_as_its_machines_agent_named_in_the_header(plane: Server) -> None:
    with plane.client() as operator:
        runner = operator.post("/api/v1/tokens", json={"kind": "runner", "machine": "velo"})
    token = runner.json()["token"]
    before = heartbeats_of(plane, "flow")
    own = post_mcp(plane, {"Authorization": f"Bearer {token}", "X-MCOS-Agent": "flow"})
    assert own.status_code == 200, own.text
    assert own.json()["result"]["isError"] is False, own.text
    assert heartbeats_of(plane, "flow") == before + 1
    other = post_mcp(plane, {"Authorization": f"Bearer {token}", "X-MCOS-Agent": "donna"})
    assert other.status_code == 403, other.text  # Donna runs on the Mac Mini
    assert error_of(other)["field"] == "X-MCOS-Agent"
    unnamed = post_mcp(plane, {"Authorization": f"Bearer {token}"})
    assert unnamed.status_code == 403, unnamed.text

    async def over_stdio() -> Any:
        async with mcp_session(plane, "stdio", token, "flow") as session:
            return await session.call_tool("heartbeat", {"status": "idle"})

    assert not anyio.run(over_stdio).is_error
    assert heartbeats_of(plane, "flow") == before + 2, "mcos mcp with a runner token acts as flow"


def test_an_agents_token_cannot_act_as_another_over_http(plane: Server) -> None:
    donna = plane.agent_token("donna")
    flow_before, donna_before = heartbeats_of(plane, "flow"), heartbeats_of(plane, "donna")
    named = post_mcp(plane, {"Authorization": f"Bearer {donna}", "X-MCOS-Agent": "flow"})
    assert named.status_code == 422, named.text
    assert error_of(named)["field"] == "X-MCOS-Agent"
    # The tools take no agent: Donna's token acts as Donna, whatever is asked.
    own = post_mcp(plane, {"Authorization": f"Bearer {donna}"})
    assert own.json()["result"]["isError"] is False, own.text
    assert heartbeats_of(plane, "flow") == flow_before
    assert heartbeats_of(plane, "donna") == donna_before + 1


def test_an_agents_token_cannot_touch_anothers_task(plane: Server) -> None:
    with plane.client() as operator:
        task = operator.post("/api/v1/tasks", json={"title": "Flow's", "assignee": "flow"}).json()
    donna = plane.agent_token("donna")

    async def run() -> Any:
        async with mcp_session(plane, "http", donna, "donna") as session:
            return await session.call_tool("move_task", {"task_id": task["id"], "status": "done"})

    moved = anyio.run(run)
    with plane.agent("donna") as rest:
        by_rest = rest.post(f"/api/v1/tasks/{task['id']}/move", json={"status": "done"})
    assert moved.is_error
    assert moved.structured_content["error"]["status"] == by_rest.status_code, by_rest.text
    assert moved.structured_content["error"]["message"] == error_of(by_rest)["message"]


def test_mcos_mcp_refuses_to_start_as_another_agent(plane: Server) -> None:
    donna = plane.agent_token("donna")
    env = plane.env | {"MCOS_TOKEN": donna}
    result = subprocess.run(
        [sys.executable, "-m", "mcos", "mcp", "--agent", "flow"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    assert result.stdout == "", "standard output is the protocol's alone"
    assert "this token is agent donna's" in result.stderr, result.stderr
    operator = subprocess.run(
        [sys.executable, "-m", "mcos", "mcp", "--agent", "flow"],
        env=plane.env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert operator.returncode != 0
    assert "this token is an operator's" in operator.stderr, operator.stderr
