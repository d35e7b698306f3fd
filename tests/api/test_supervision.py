"""Supervision end to end: a silent agent is nudged, its work handed over, then someone is told.

The fleet is the template with second-scale thresholds; the sweep runs five times a second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.server import Server, init_here, mcos_env

SETTINGS = {"MCOS_LIVENESS_SWEEP_SECONDS": "0.2", "MCOS_SCHEDULE_TICK_SECONDS": "60"}


def shorten(text: str) -> str:
    for old, new in (
        ("heartbeat_seconds = 300 ", "heartbeat_seconds = 5 "),
        ("stalled_after_seconds = 900 ", "stalled_after_seconds = 10 "),
        ("offline_after_seconds = 3600 ", "offline_after_seconds = 30 "),
        ("max_wake_attempts = 2\n", "max_wake_attempts = 2\nnudge_every_seconds = 1\n"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def fast_fleet(tmp_path: Path, database_url: str) -> Iterator[Server]:
    env = mcos_env(tmp_path) | {"MCOS_DATABASE_URL": database_url} | SETTINGS
    fleet_dir = tmp_path / "fleet"
    init_here(fleet_dir, env)
    path = fleet_dir / "fleet.toml"
    path.write_text(shorten(path.read_text()))
    srv = Server(fleet_dir, database_url, env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def supervision_events(operator: httpx.Client) -> list[dict[str, Any]]:
    types = "supervision.nudged,supervision.reassigned,supervision.escalated,supervision.recovered"
    events: list[dict[str, Any]] = operator.get(
        "/api/v1/events", params={"types": types, "limit": 1000}
    ).json()["events"]
    return events


def steps_of(events: list[dict[str, Any]], agent: str) -> list[str]:
    return [e["type"].split(".")[1] for e in events if e["subject"] == f"agent:{agent}"]


def test_a_silent_agent_is_nudged_then_its_work_handed_over_then_someone_told(
    fast_fleet: Server,
) -> None:
    server = fast_fleet
    live = {name: server.agent(name) for name in ("pulse", "claw", "scout", "elon")}
    with server.client() as operator:
        task = {}
        for title, who in (
            ("Chase invoice 114", "scout"),
            ("Renewals", "pulse"),
            ("Fix DNS", "elon"),
        ):
            made = operator.post("/api/v1/tasks", json={"title": title, "assignee": who})
            assert made.status_code == 201, made.text
            task[who] = made.json()["id"]
        for name, client in live.items():
            assert client.post(f"/api/v1/agents/{name}/heartbeat", json={}).status_code == 200

        def keep_alive() -> None:
            for name in ("pulse", "claw"):
                live[name].post(f"/api/v1/agents/{name}/heartbeat", json={"status": "working"})

        # Scout and Elon fall silent; Pulse and Claw (revenue, like Scout) keep heartbeating.
        deadline = time.monotonic() + 60
        events = supervision_events(operator)
        while time.monotonic() < deadline and not (
            "escalated" in steps_of(events, "scout") and "escalated" in steps_of(events, "elon")
        ):
            keep_alive()
            time.sleep(0.5)
            events = supervision_events(operator)
        assert steps_of(events, "scout") == ["nudged", "nudged", "reassigned", "escalated"]
        # No other infrastructure agent can take Elon's work: straight from nudges to telling.
        assert steps_of(events, "elon") == ["nudged", "nudged", "escalated"]
        # Agents that never heartbeated are not running, not stalled: nobody supervises them.
        assert {e["subject"] for e in events} == {"agent:scout", "agent:elon"}

        scout = [e for e in events if e["subject"] == "agent:scout"]
        assert [e["data"]["attempt"] for e in scout[:2]] == [1, 2]
        assert all(e["data"]["max_wake_attempts"] == 2 for e in scout[:2])
        nudges = operator.get(
            "/api/v1/events", params={"types": "agent.nudged", "subject": "agent:scout"}
        ).json()["events"]
        assert len(nudges) == 2 and all("wake attempt" in n["data"]["reason"] for n in nudges)

        reassigned = scout[2]["data"]
        # Claw has no open task, Pulse has one: the least-loaded live revenue agent takes it.
        assert reassigned["to"] == "claw" and reassigned["tasks"] == [task["scout"]]
        assert "least-loaded live revenue agent" in reassigned["reason"]
        moved = operator.get(f"/api/v1/tasks/{task['scout']}").json()
        assert moved["assignee"] == "claw"
        assigned = operator.get(
            "/api/v1/events",
            params={"types": "task.assigned", "subject": f"task:{task['scout']}"},
        ).json()["events"]
        assert [(e["actor"], e["data"]["from"], e["data"]["to"]) for e in assigned] == [
            ("operator:supervision", "scout", "claw")
        ]

        escalated = scout[3]["data"]
        assert escalated["told"] == ["operator", "jarvis"]  # Scout's supervisor is Jarvis
        elon = [e for e in events if e["subject"] == "agent:elon"][-1]["data"]
        assert "no other live infrastructure agent" in elon["reason"]
        assert elon["open_tasks"] == [task["elon"]]
        to_jarvis = operator.get(
            "/api/v1/events", params={"types": "message.sent", "subject": "agent:jarvis"}
        ).json()["events"]
        bodies = [m["data"]["body"] for m in to_jarvis]
        assert any("scout" in b and "claw" in b for b in bodies)
        assert any("elon" in b for b in bodies)

        # The operator is told where they look: the dashboard's inbox lists both, until back.
        told = operator.get("/api/v1/dashboard/snapshot").json()["escalations"]
        assert sorted((x["agent"], x["nudges"], x["reassigned_to"]) for x in told) == [
            ("elon", 2, None),
            ("scout", 2, "claw"),
        ]
        assert {x["agent"]: x["reassigned"] for x in told}["scout"] == [task["scout"]]

        # Nothing flaps: after the last step, nothing more, even across a restart.
        server.kill()
        server.start()
        until = time.monotonic() + 3
        while time.monotonic() < until:
            keep_alive()
            time.sleep(0.5)
        assert supervision_events(operator) == events

        # A heartbeat ends the episode, with an event saying so; Elon's stays open.
        assert live["scout"].post("/api/v1/agents/scout/heartbeat", json={}).status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "recovered" not in steps_of(events, "scout"):
            keep_alive()
            time.sleep(0.3)
            events = supervision_events(operator)
        assert steps_of(events, "scout") == [
            "nudged",
            "nudged",
            "reassigned",
            "escalated",
            "recovered",
        ]
        recovered = events[-1]["data"]
        assert recovered["nudges"] == 2 and recovered["escalated"] and recovered["reassigned"]
        assert steps_of(events, "elon") == ["nudged", "nudged", "escalated"]
        still = operator.get("/api/v1/dashboard/snapshot").json()["escalations"]
        assert [x["agent"] for x in still] == ["elon"]
    for client in live.values():
        client.close()
