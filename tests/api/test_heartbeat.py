from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.server import ControlPlane, error_of


def test_heartbeat_sets_liveness_and_gauge(api: ControlPlane) -> None:
    with api.agent("donna") as donna:
        answer = donna.post(
            "/api/v1/agents/donna/heartbeat",
            json={"status": "working", "context_tokens": 84_000, "note": "triaging inbox"},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["liveness"] == "working"
    assert body["gauge"]["tokens"] == 84_000
    assert body["gauge"]["window"] == 200_000
    with api.client() as operator:
        agent = operator.get("/api/v1/agents/donna").json()
    assert agent["liveness"] == "working"
    assert agent["gauge"]["fraction"] == 0.42
    assert agent["note"] == "triaging inbox"


def test_agent_token_cannot_act_as_another_agent(api: ControlPlane) -> None:
    with api.agent("sentinel") as sentinel, api.client() as operator:
        response = sentinel.post("/api/v1/agents/jarvis/heartbeat", json={})
        audit = operator.get("/api/v1/events", params={"types": "policy.decided"}).json()
        jarvis = operator.get("/api/v1/agents/jarvis").json()
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"
    assert [(e["actor"], e["data"]["as_agent"], e["data"]["rule"]) for e in audit["events"]] == [
        ("agent:sentinel", "jarvis", "impersonation")
    ], "the attempt is on the record"
    assert jarvis["heartbeats"] == 0, "and nothing was recorded for jarvis"


def test_heartbeat_answers_with_the_work_waiting(api: ControlPlane) -> None:
    with (
        api.client() as operator,
        api.agent("donna") as donna,
        api.agent("jarvis") as jarvis,
        api.agent("apex") as apex,
        api.agent("elon") as elon,
    ):

        def send(client: httpx.Client, **body: Any) -> int:
            response = client.post("/api/v1/messages", json=body)
            assert response.status_code == 201, response.text
            message_id: int = response.json()["id"]
            return message_id

        def task(title: str, assignee: str) -> int:
            response = operator.post("/api/v1/tasks", json={"title": title, "assignee": assignee})
            assert response.status_code == 201, response.text
            task_id: int = response.json()["id"]
            return task_id

        waiting = task("Answer the landlord", "donna")
        started = task("Draft the board pack", "donna")
        finished = task("Book the flights", "donna")
        task("Patch the router", "elon")
        for status in ("in_progress", "review", "done"):
            operator.post(f"/api/v1/tasks/{finished}/move", json={"status": status})
        operator.post(f"/api/v1/tasks/{started}/move", json={"status": "in_progress"})

        directive = send(jarvis, to="donna", kind="directive", body="Chase the VAT return")
        chat = send(operator, to="donna", body="Lunch at one?")
        fleet_wide = send(jarvis, fleet=True, kind="report", body="Board meets Friday")
        legal = send(apex, channel="legal", kind="question", body="Who signs the NDA?")
        send(elon, channel="ops", body="Deploy at five")  # donna is not in ops
        send(jarvis, to="flow", body="Not for donna")
        send(donna, channel="legal", body="I will")  # her own: not echoed back

        first = donna.post("/api/v1/agents/donna/heartbeat", json={"status": "working"})
        assert first.status_code == 200, first.text
        work = first.json()
        assert [t["id"] for t in work["tasks"]] == [waiting, started]
        assert [t["status"] for t in work["tasks"]] == ["assigned", "in_progress"]
        assert [m["id"] for m in work["directives"]] == [directive]
        assert work["directives"][0]["sender"] == "agent:jarvis"
        assert [m["id"] for m in work["messages"]] == [chat, fleet_wide, legal]

        # Until acknowledged, the same messages come again.
        again = donna.post("/api/v1/agents/donna/heartbeat", json={}).json()
        assert [m["id"] for m in again["directives"] + again["messages"]] == [
            directive,
            chat,
            fleet_wide,
            legal,
        ]
        acked = donna.post("/api/v1/agents/donna/heartbeat", json={"ack_messages_through": legal})
        assert acked.status_code == 200, acked.text
        assert (acked.json()["directives"], acked.json()["messages"]) == ([], [])
        assert acked.json()["message_cursor"] == legal

        later = send(jarvis, to="donna", body="One more thing")
        after_ack = donna.post("/api/v1/agents/donna/heartbeat", json={}).json()
        assert [m["id"] for m in after_ack["messages"]] == [later]
        assert after_ack["directives"] == []
        # A stale acknowledgement does not bring old messages back.
        stale = donna.post("/api/v1/agents/donna/heartbeat", json={"ack_messages_through": 1})
        assert [m["id"] for m in stale.json()["messages"]] == [later]

        # elon hears the fleet-wide message only: not legal, not donna's, not his own.
        elon_work = elon.post("/api/v1/agents/elon/heartbeat", json={}).json()
    assert [m["id"] for m in elon_work["messages"]] == [fleet_wide]
    assert [t["title"] for t in elon_work["tasks"]] == ["Patch the router"]
