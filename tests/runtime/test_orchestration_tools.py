"""The orchestrator's tools: offered to the orchestrator only, and Jarvis using them for real."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcos.fleet import Fleet
from mcos.fleet.loader import load_fleet, template_text
from mcos.runtime.orchestration_tools import ORCHESTRATION_TOOLS
from mcos.runtime.providers.base import ToolCall
from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.runtime.toolbox import Toolbox
from mcos.runtime.tools import offered_tools
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.runtime import events, make_runner, run_until, task_status
from tests.fixtures.server import Server

ORCHESTRATION = {t.name for t in ORCHESTRATION_TOOLS}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    path = tmp_path_factory.mktemp("fleet") / "fleet.toml"
    path.write_text(template_text(), encoding="utf-8")
    return load_fleet(path)


def test_the_fleet_tools_are_offered_to_the_orchestrator_and_never_to_others(fleet: Fleet) -> None:
    assert ORCHESTRATION == {
        "fleet_status", "read_board", "route_request", "send_directive", "reassign_task",
        "nudge_agent", "suspend_agent", "resume_agent", "open_committee",
    }  # fmt: skip
    for agent in fleet.agents:
        offered = {t.name for t in offered_tools(agent)}
        if agent.role == "orchestrator":
            assert ORCHESTRATION <= offered, agent.name
        else:
            assert not ORCHESTRATION & offered, agent.name
    # A role is not a capability: Donna given every capability still is not offered them.
    donna = fleet.agent("donna")
    assert donna is not None
    powerful = donna.model_copy(update={"capabilities": ("read", "plan", "write", "broadcast")})
    assert not ORCHESTRATION & {t.name for t in offered_tools(powerful)}


def test_incident_decisions_are_offered_to_the_roles_the_escalation_table_names(
    fleet: Fleet,
) -> None:
    decide = {"confirm_incident", "dismiss_incident"}
    confirmers = {role for rule in fleet.escalation.values() for role in rule.confirm_by}
    assert {"orchestrator", "security"} <= confirmers
    for agent in fleet.agents:
        offered = set(Toolbox(agent, None, None, fleet=fleet).offered)  # type: ignore[arg-type]
        if agent.role in confirmers:
            assert decide <= offered, agent.name
        else:
            assert not decide & offered, agent.name
    # Without the table's word (no fleet to read it from), nobody is offered them.
    sentinel = fleet.agent("sentinel")
    assert sentinel is not None and sentinel.role == "security"
    assert not decide & {t.name for t in offered_tools(sentinel)}


def test_a_fleet_tool_asked_for_by_another_agent_is_refused_before_any_request(
    fleet: Fleet, tmp_path: Path
) -> None:
    sentinel = fleet.agent("sentinel")
    assert sentinel is not None
    # No link at all: were the call to reach for the control plane, it would crash.
    toolbox = Toolbox(sentinel, None, None)  # type: ignore[arg-type]
    call = ToolCall("c1", "suspend_agent", '{"agent": "jarvis", "reason": "coup"}')
    result = asyncio.run(toolbox.run(call, None))
    assert result.failed
    assert result.turn.text == (
        "suspend_agent needs the role 'orchestrator', which you do not have"
    )


def test_jarvis_routes_a_request_nudges_the_agent_and_is_briefed_with_the_data(
    srv: Server, fake: FakeProviderServer
) -> None:
    with srv.client() as operator, srv.agent("apex") as apex:
        assert apex.post("/api/v1/agents/apex/heartbeat", json={}).status_code == 200
        sort = operator.post(
            "/api/v1/tasks",
            json={"title": "Sort out the new requests", "assignee": "jarvis"},
        ).json()["id"]
        brief = operator.post(
            "/api/v1/tasks",
            json={"title": "Morning briefing", "kind": "briefing", "assignee": "jarvis"},
        ).json()["id"]
    route = {
        "title": "Draft the fibre supplier contract",
        "description": "Seven-year term, South African law.",
    }
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-jarvis",
                    # Exactly this task's prompt: the briefing lists the task too.
                    contains=f"Task #{sort}: Sort out the new requests",
                    steps=(
                        Step.call("fleet_status"),
                        Step.call("read_board", {}),
                        Step.call("route_request", route),
                        Step.call("nudge_agent", {"agent": "apex", "reason": "contract waiting"}),
                        Step.reply("Routed the contract to Apex and woke him."),
                    ),
                ),
                Rule(
                    key="key-jarvis",
                    contains="This is the morning briefing",
                    steps=(Step.reply("A quiet night: the contract went to Apex."),),
                ),
            ]
        )
    )

    async def both_done(api: httpx.AsyncClient) -> bool:
        return {await task_status(api, sort), await task_status(api, brief)} == {"review"}

    asyncio.run(
        run_until(make_runner(srv, ["jarvis"]), both_done, url=srv.url, token=srv.operator_token)
    )

    async def check(api: httpx.AsyncClient) -> dict[str, Any]:
        return {
            "decided": await events(api, "routing.decided"),
            "nudged": await events(api, "agent.nudged"),
            "tasks": (await api.get("/api/v1/tasks", params={"assignee": "apex"})).json(),
            "sort": (await api.get(f"/api/v1/tasks/{sort}")).json(),
            "briefing": (await api.get("/api/v1/briefing")).json(),
        }

    async def read() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {srv.operator_token}"}
        async with httpx.AsyncClient(base_url=srv.url, headers=headers) as api:
            return await check(api)

    seen = asyncio.run(read())
    [decided] = seen["decided"]
    assert decided["actor"] == "agent:jarvis"
    assert decided["data"]["agent"] == "apex" and decided["data"]["rule"] == "legal"
    assert "the request mentions 'contract'" in decided["data"]["explanation"]
    [contract] = seen["tasks"]["tasks"]
    assert contract["title"] == route["title"] and contract["status"] == "assigned"
    assert contract["creator"] == "agent:jarvis" and decided["data"]["task_id"] == contract["id"]
    [nudged] = seen["nudged"]
    assert (nudged["actor"], nudged["subject"]) == ("agent:jarvis", "agent:apex")
    assert nudged["data"]["reason"] == "contract waiting"
    # The model read compact answers: who got it and why, then the nudge's event.
    results = [h["data"]["body"] for h in seen["sort"]["history"] if h["type"] == "task.commented"]
    assert results == ["(simulated) Routed the contract to Apex and woke him."]
    jarvis_calls = [r for r in fake.requests if r.key == "key-jarvis"]
    assert all(
        {"route_request", "nudge_agent", "fleet_status"} <= set(r.tools) for r in jarvis_calls
    )
    status, board, routed, woke = max((r.tool_results for r in jarvis_calls), key=len)
    assert "apex (legal): idle, context -, no task, heartbeat " in status
    assert "elon (infrastructure): offline, context -, no task, heartbeat never" in status
    assert f"in_progress (1):\n  #{sort} Sort out the new requests — jarvis [normal]" in board
    assert routed.startswith(f"task #{contract['id']} created and assigned to apex\n")
    assert woke == f"nudged apex (event {nudged['seq']})"
    # The briefing task's prompt held the data's briefing and the instruction; its answer is
    # the written briefing, marked as simulated.
    [prompt] = [r.last_user_text for r in jarvis_calls if "morning briefing" in r.last_user_text]
    assert "never invent a number" in prompt
    assert "--- The briefing, from the data ---\n\n# Morning briefing — Specter Holdings" in prompt
    written = seen["briefing"]["written"]
    assert written["by"] == "jarvis" and written["task_id"] == brief
    assert written["text"] == "(simulated) A quiet night: the contract went to Apex."
    assert seen["briefing"]["markdown"].startswith(
        "# From Jarvis (written by the model claude-sonnet-4-6;"
    )


def test_sentinel_confirms_a_p2_with_its_own_tool(srv: Server, fake: FakeProviderServer) -> None:
    with srv.client() as operator, srv.agent("elon") as elon:
        raised = elon.post(
            "/api/v1/incidents",
            json={"severity": "P2", "title": "Repeated SSH failures on velo", "body": "auth.log"},
        )
        assert raised.status_code == 201, raised.text
        incident = raised.json()
        assert incident["status"] != "confirmed"
        review = operator.post(
            "/api/v1/tasks",
            json={"title": f"Review P2 incident #{incident['id']}", "assignee": "sentinel"},
        ).json()["id"]
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-sentinel",
                    contains=f"Review P2 incident #{incident['id']}",
                    steps=(
                        Step.call(
                            "confirm_incident",
                            {"incident_id": incident["id"], "reason": "47 failures from one IP"},
                        ),
                        Step.reply("Confirmed: a brute-force attempt from one address."),
                    ),
                )
            ]
        )
    )

    async def reviewed(api: httpx.AsyncClient) -> bool:
        return await task_status(api, review) == "review"

    asyncio.run(
        run_until(make_runner(srv, ["sentinel"]), reviewed, url=srv.url, token=srv.operator_token)
    )
    with srv.client() as operator:
        after = operator.get(f"/api/v1/incidents/{incident['id']}").json()
    assert after["status"] == "confirmed", after
    [call] = [r for r in fake.requests if r.key == "key-sentinel" and r.tool_results]
    assert call.tool_results[0] == f"incident #{incident['id']} P2: confirmed"
