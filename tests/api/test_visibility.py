"""Agents see only what is theirs, and take orders only from those who may give them."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.fixtures.server import ControlPlane, Server, error_of


def _stream_events(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events the stream replays from the start, for this token."""
    found: list[dict[str, Any]] = []
    with client.stream("GET", "/api/v1/stream", params={"after": 0}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                found.append(json.loads(line.removeprefix("data: ")))
                if len(found) == count:
                    break
    return found


def test_an_agent_reads_only_its_own_notes_messages_and_events(api: ControlPlane) -> None:
    with (
        api.client() as operator,
        api.agent("donna") as donna,
        api.agent("flow") as flow,
        api.agent("jarvis") as jarvis,
    ):
        note = donna.post("/api/v1/agents/donna/memory", json={"content": "Vodacom +8%: ask Vega"})
        assert note.status_code == 201, note.text
        assert donna.post(
            "/api/v1/messages", json={"to": "jarvis", "body": "digest ready"}
        ).is_success
        assert jarvis.post(
            "/api/v1/messages", json={"channel": "legal", "body": "contract review at 10"}
        ).is_success
        assert jarvis.post(
            "/api/v1/messages", json={"channel": "ops", "body": "deploy window 22:00"}
        ).is_success
        assert operator.post(
            "/api/v1/messages", json={"fleet": True, "body": "all hands at 9"}
        ).is_success
        assert flow.post(
            "/api/v1/messages", json={"to": "elon", "body": "build is yours"}
        ).is_success

        # Memory notes: one's own only.
        theirs = flow.get("/api/v1/agents/donna/memory")
        assert theirs.status_code == 403 and error_of(theirs)["field"] == "name"
        own = donna.get("/api/v1/agents/donna/memory").json()["notes"]
        assert [n["content"] for n in own] == ["Vodacom +8%: ask Vega"]
        assert len(operator.get("/api/v1/agents/donna/memory").json()["notes"]) == 1

        # Messages: to it, from it, to its channels (ops, engineering) and to the fleet.
        seen = [m["body"] for m in flow.get("/api/v1/messages").json()["messages"]]
        assert seen == ["deploy window 22:00", "all hands at 9", "build is yours"]
        asked = flow.get("/api/v1/messages", params={"agent": "donna"}).json()["messages"]
        assert asked == [], "filters narrow what it may see; they never widen it"
        everything = operator.get("/api/v1/messages").json()["messages"]
        assert len(everything) == 5

        # Events: those it is party to, in the log and on the stream alike.
        log = flow.get("/api/v1/events", params={"limit": 10_000}).json()["events"]
        bodies = {e["data"].get("body") for e in log if e["type"] == "message.sent"}
        assert bodies == {"deploy window 22:00", "all hands at 9", "build is yours"}
        assert not [e for e in log if e["type"].startswith("memory.")]
        assert all(
            e["actor"] == "agent:flow"
            or e["subject"] in ("agent:flow", "channel:ops", None)
            or "flow" in str(e["data"])
            for e in log
        ), [e for e in log if "flow" not in str(e)]
        streamed = _stream_events(flow, len(log))
        assert [e["seq"] for e in streamed] == [e["seq"] for e in log]
        donnas = donna.get("/api/v1/events", params={"types": "memory.*"}).json()["events"]
        assert [e["type"] for e in donnas] == ["memory.flushed"]
        assert operator.get("/api/v1/events", params={"types": "memory.*"}).json()["events"]


def test_directives_come_from_the_orchestrator_an_operator_or_the_supervisor(
    api: ControlPlane,
) -> None:
    with (
        api.client() as operator,
        api.agent("donna") as donna,
        api.agent("elon") as elon,
        api.agent("flow") as flow,
        api.agent("jarvis") as jarvis,
    ):
        directive = {"kind": "directive", "body": "Stop all builds now"}
        for sender, audience in (
            (donna, {"to": "flow"}),  # a peer
            (flow, {"to": "elon"}),  # upwards
            (flow, {"channel": "ops"}),
            (elon, {"channel": "ops"}),  # a supervisor, but of one agent, not a channel
        ):
            refused = sender.post("/api/v1/messages", json=directive | audience)
            assert refused.status_code == 403, refused.text
            assert error_of(refused)["field"] == "kind"
            assert "supervisor" in error_of(refused)["message"]
            # The same words as a report are fine.
            as_report = sender.post(
                "/api/v1/messages", json=directive | audience | {"kind": "report"}
            )
            assert as_report.status_code == 201, as_report.text
        for sender, audience in (
            (elon, {"to": "flow"}),  # Flow's supervisor
            (jarvis, {"channel": "ops"}),  # the orchestrator
            (jarvis, {"to": "donna"}),
            (operator, {"to": "flow"}),
        ):
            sent = sender.post("/api/v1/messages", json=directive | audience)
            assert sent.status_code == 201, sent.text
        beat = flow.post("/api/v1/agents/flow/heartbeat", json={}).json()
        givers = sorted(m["sender"] for m in beat["directives"])
        assert givers == ["agent:elon", "agent:jarvis", "operator:operator"]


def test_a_heartbeat_reports_only_its_own_task_and_notes_are_today_or_yesterday(
    api: ControlPlane,
) -> None:
    with api.client() as operator, api.agent("flow") as flow:
        elons = operator.post("/api/v1/tasks", json={"title": "Patch", "assignee": "elon"}).json()
        flows = operator.post("/api/v1/tasks", json={"title": "Build", "assignee": "flow"}).json()
        other = flow.post("/api/v1/agents/flow/heartbeat", json={"current_task": elons["id"]})
        assert other.status_code == 422 and error_of(other)["field"] == "current_task"
        assert "assigned to elon" in error_of(other)["message"]
        own = flow.post("/api/v1/agents/flow/heartbeat", json={"current_task": flows["id"]})
        assert own.status_code == 200, own.text

        for day in ("2001-01-01", "2099-12-31"):
            old = flow.post("/api/v1/agents/flow/memory", json={"content": "x", "day": day})
            assert old.status_code == 422 and error_of(old)["field"] == "day", old.text
        today = flow.post("/api/v1/agents/flow/memory", json={"content": "builds paused"})
        day = today.json()["day"]
        explicit = flow.post("/api/v1/agents/flow/memory", json={"content": "y", "day": day})
        assert explicit.status_code == 201, explicit.text


def test_the_same_request_twice_is_one_approval_and_a_past_cooldown_is_not_shown(
    server: Server,
) -> None:
    ask = {"capability": "exec", "minutes": 30, "reason": "rebuild staging"}
    with server.client() as operator, server.agent("flow") as flow:
        first = flow.post("/api/v1/approvals", json=ask)
        again = flow.post("/api/v1/approvals", json=ask)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"] and again.json()["repeated"] is True
        other = flow.post("/api/v1/approvals", json=ask | {"minutes": 60})
        assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
        build = {"kind": "payment.send", "amount_usd": 500.0, "recipient": "x@example.com"}
        with server.agent("vega") as vega:
            asked = [vega.post("/api/v1/actions", json=build).json() for _ in range(2)]
        assert asked[0]["approval_id"] == asked[1]["approval_id"]
        pending = operator.get("/api/v1/approvals", params={"status": "pending"}).json()
        assert len(pending["approvals"]) == 3

        cooling = flow.post("/api/v1/agents/flow/cooldown", json={"retry_after_seconds": 0.5})
        assert cooling.status_code == 200, cooling.text
        assert operator.get("/api/v1/agents/flow").json()["cooldown_until"] is not None
        deadline = time.monotonic() + 10
        while operator.get("/api/v1/agents/flow").json()["cooldown_until"] is not None:
            assert time.monotonic() < deadline, "the ended cooldown is still shown"
            time.sleep(0.1)
        with server.agent("sentinel") as sentinel:
            p0 = sentinel.post("/api/v1/incidents", json={"severity": "P0", "title": "Breach?"})
            assert p0.status_code == 201, p0.text
    listed = server.mcos("approvals", "ls").stdout
    assert f"confirm P0 incident #{p0.json()['id']} from sentinel: Breach?" in listed
    assert "None" not in listed
