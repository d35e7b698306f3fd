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


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_heartbeat_with_its_gauge_shows_on_the_agent(plane: Server, transport: str) -> None:
    agent = "atlas" if transport == "http" else "gene"
    [beat] = call(
        plane,
        transport,
        agent,
        ("heartbeat", {"status": "working", "context_tokens": 150_000, "context_window": 200_000}),
    )
    assert "tasks" in data_of(beat), "the answer is the work waiting"
    with plane.client() as operator:
        shown = operator.get(f"/api/v1/agents/{agent}").json()
    assert shown["liveness"] == shown["reported_status"] == "working", shown
    assert shown["gauge"]["tokens"] == 150_000, shown["gauge"]
    assert shown["gauge"]["window"] == 200_000, shown["gauge"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_usage_memory_incidents_and_messages_land_as_the_agents_own(
    plane: Server, transport: str
) -> None:
    agent = "pulse" if transport == "http" else "sentinel"
    note = f"{transport}: the staging key rotates on Fridays"
    usage, flushed, incident, message = call(
        plane,
        transport,
        agent,
        ("report_usage", {"input_tokens": 12_000, "output_tokens": 800}),
        ("flush_memory", {"content": note}),
        ("raise_incident", {"severity": "P3", "title": f"{transport}: disk at 81%"}),
        ("send_message", {"to": "jarvis", "kind": "report", "body": f"{transport} done"}),
    )
    priced = data_of(usage)
    assert priced["agent"] == agent and priced["cost_usd"] > 0, priced
    assert data_of(flushed) and data_of(incident)["severity"] == "P3"
    assert data_of(message)["to"] == "jarvis"
    with plane.agent(agent) as rest:
        notes = rest.get(f"/api/v1/agents/{agent}/memory").json()["notes"]
        sent = rest.get("/api/v1/messages").json()["messages"]
    assert note in str(notes), notes
    assert any(
        m["body"] == f"{transport} done" and m["sender"] == f"agent:{agent}" for m in sent
    ), sent
    with plane.client() as operator:
        spend = operator.get("/api/v1/usage").json()
    assert agent in str(spend), "the spend shows on the fleet's usage"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_agent_takes_a_task_to_done(plane: Server, transport: str) -> None:
    with plane.client() as operator:
        created = operator.post(
            "/api/v1/tasks", json={"title": f"Fix the {transport} build", "assignee": "flow"}
        ).json()
    task = created["id"]
    listed, started, commented, reviewed, own_work = call(
        plane,
        transport,
        "flow",
        ("my_tasks", {"status": "assigned"}),
        ("move_task", {"task_id": task, "status": "in_progress"}),
        ("comment_on_task", {"task_id": task, "body": "found it: a stale lockfile"}),
        ("move_task", {"task_id": task, "status": "review", "reason": "fixed"}),
        ("move_task", {"task_id": task, "status": "done"}),
    )
    assert task in [t["id"] for t in data_of(listed)["tasks"]], text_of(listed)
    assert f"#{task}" in text_of(listed)
    assert data_of(started)["status"] == "in_progress"
    assert data_of(commented)["body"] == "found it: a stale lockfile"
    assert data_of(reviewed)["status"] == "review"
    # As over REST: nobody accepts their own work. The tool error is the server's error.
    assert own_work.is_error
    assert own_work.structured_content is not None
    error = own_work.structured_content["error"]
    assert (error["status"], error["code"], error["field"]) == (403, "forbidden", "status")
    assert text_of(own_work) == f"forbidden: {error['message']} (field: status)"
    # Flow's supervisor accepts it, over MCP too.
    accepted, shown = call(
        plane,
        transport,
        "elon",
        ("move_task", {"task_id": task, "status": "done"}),
        ("show_task", {"task_id": task}),
    )
    assert data_of(accepted)["status"] == "done"
    assert text_of(accepted) == f"#{task} is now done"
    assert data_of(shown)["status"] == "done"
    with plane.client() as operator:
        card = operator.get(f"/api/v1/tasks/{task}").json()
    assert card["status"] == "done", "the REST API sees what the MCP agents did"


def _last_decision(plane: Server, agent: str) -> dict[str, Any]:
    with plane.client() as operator:
        events = operator.get(
            "/api/v1/events", params={"types": "policy.decided", "subject": f"agent:{agent}"}
        ).json()["events"]
    last: dict[str, Any] = events[-1]
    return last


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_action_its_capabilities_lack_is_refused_exactly_as_rest_refuses_it(
    plane: Server, transport: str
) -> None:
    action = {"kind": "shell.exec", "command": "npm run build", "reason": "ship it"}
    [asked] = call(plane, transport, "flow", ("ask_before_acting", action))
    decision = data_of(asked)
    by_mcp = _last_decision(plane, "flow")
    with plane.agent("flow") as flow:
        rest = flow.post("/api/v1/actions", json=action)
    by_rest = _last_decision(plane, "flow")
    assert rest.status_code == 403, rest.text
    assert rest.json()["error"]["code"] == "policy_denied"
    assert decision["decision"] == "deny"
    assert decision["reason"] == rest.json()["error"]["message"]
    assert text_of(asked) == f"refused: {decision['reason']}"
    assert by_mcp["seq"] < by_rest["seq"], "each ask is on the record"
    for event in (by_mcp, by_rest):
        assert event["actor"] == "agent:flow", event
        assert event["data"]["outcome"] == "deny", event
    assert by_mcp["data"] == by_rest["data"], "the same decision, recorded the same way"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_action_needing_approval_answers_its_approval_and_waits_for_it(
    plane: Server, transport: str
) -> None:
    payment = {
        "kind": "payment.send",
        "amount_usd": 40.0,
        "recipient": f"{transport}@fibre.example",
    }
    token = plane.agent_token("vega")

    async def run() -> tuple[CallToolResult, CallToolResult, CallToolResult]:
        async with mcp_session(plane, transport, token, "vega") as session:
            asked = await session.call_tool("ask_before_acting", payment)
            approval = data_of(asked)["approval_id"]
            pending = await session.call_tool(
                "wait_for_approval", {"approval_id": approval, "timeout_seconds": 0}
            )
            with plane.client() as operator:
                approved = operator.post(f"/api/v1/approvals/{approval}/approve", json={})
                assert approved.status_code == 200, approved.text
            decided = await session.call_tool(
                "wait_for_approval", {"approval_id": approval, "timeout_seconds": 30}
            )
            return asked, pending, decided

    asked, pending, decided = anyio.run(run)
    decision = data_of(asked)
    assert decision["decision"] == "needs_approval", decision
    assert text_of(asked) == f"needs approval {decision['approval_id']}: wait for it"
    with plane.client() as operator:
        approval = operator.get(f"/api/v1/approvals/{decision['approval_id']}").json()
    assert approval["agent"] == "vega", approval
    assert data_of(pending)["status"] == "pending"
    assert data_of(decided)["status"] == "approved"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bad_arguments_are_a_tool_error_naming_the_field(plane: Server, transport: str) -> None:
    bad_status, too_big, checked_by_rest, unknown_task = call(
        plane,
        transport,
        "donna",
        ("move_task", {"task_id": 1, "status": "finished"}),
        ("show_task", {"task_id": 2**62}),
        ("send_message", {"to": "nobody-here", "body": "hello"}),
        ("show_task", {"task_id": 2**31 - 1}),
    )
    for refused, field in ((bad_status, "status"), (too_big, "task_id")):
        assert refused.is_error
        assert field in text_of(refused), text_of(refused)
        assert "Traceback" not in text_of(refused)
    for refused, status, field in ((checked_by_rest, 422, "to"), (unknown_task, 404, "task_id")):
        assert refused.is_error, text_of(refused)
        assert refused.structured_content is not None
        error = refused.structured_content["error"]
        assert (error["status"], error["field"]) == (status, field), error
        assert text_of(refused) == f"{error['code']}: {error['message']} (field: {field})"
