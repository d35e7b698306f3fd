"""What the dashboard reads: one consistent snapshot, spend per hour, and one agent's page."""

from __future__ import annotations

from typing import Any

import pytest

from mcos.domain.kanban import COLUMNS, TRANSITIONS
from tests.fixtures.server import ControlPlane, error_of

EXEC = {"kind": "shell.exec", "command": "npm run build", "paths": ["/srv/fibreflow/staging"]}


def _day(api: ControlPlane) -> dict[str, Any]:
    """A small day in the fleet: heartbeats, work, spend, a note, a denial, two things waiting."""
    with (
        api.client() as operator,
        api.agent("donna") as donna,
        api.agent("flow") as flow,
        api.agent("sentinel") as sentinel,
        api.agent("jarvis") as jarvis,
    ):
        task = operator.post("/api/v1/tasks", json={"title": "Inbox digest", "assignee": "donna"})
        task_id = task.json()["id"]
        assert donna.post(
            f"/api/v1/tasks/{task_id}/move", json={"status": "in_progress"}
        ).is_success
        operator.post("/api/v1/tasks", json={"title": "Unrouted request"})
        for tokens in (40_000, 90_000, 181_000):
            beat = donna.post(
                "/api/v1/agents/donna/heartbeat",
                json={"status": "working", "context_tokens": tokens, "current_task": task_id},
            )
            assert beat.status_code == 200, beat.text
        used = donna.post(
            "/api/v1/agents/donna/usage",
            json={
                "input_tokens": 12_000,
                "output_tokens": 800,
                "latency_ms": 900,
                "task_id": task_id,
            },
        )
        assert used.status_code == 201, used.text
        note = donna.post("/api/v1/agents/donna/memory", json={"content": "Kept: Velo invoice due"})
        assert note.status_code == 201, note.text
        assert flow.post("/api/v1/actions", json=EXEC).status_code == 403
        restore = flow.post(
            "/api/v1/approvals", json={"capability": "exec", "minutes": 30, "reason": "rebuild"}
        )
        assert restore.status_code == 201, restore.text
        p0 = sentinel.post("/api/v1/incidents", json={"severity": "P0", "title": "Breach?"})
        assert p0.status_code == 201, p0.text
        said = jarvis.post(
            "/api/v1/messages",
            json={"to": "donna", "kind": "directive", "body": "Digest by 07:00"},
        )
        assert said.status_code == 201, said.text
        return {
            "task": task_id,
            "cost": used.json()["cost_usd"],
            "approval": restore.json()["id"],
            "incident": p0.json()["id"],
            "message": said.json()["id"],
        }


def test_the_snapshot_is_the_fleet_as_the_api_sees_it(api: ControlPlane) -> None:
    day = _day(api)
    with api.client() as operator:
        snap = operator.get("/api/v1/dashboard/snapshot").json()
        newest = operator.get("/api/v1/events", params={"after": snap["last_seq"]}).json()
        usage = operator.get("/api/v1/usage").json()
    # Nothing happened after the snapshot's sequence number: the stream resumes exactly there.
    assert newest["events"] == []
    agents = {a["name"]: a for a in snap["agents"]}
    assert len(agents) == 23
    donna = agents["donna"]
    assert donna["liveness"] == "working" and donna["current_task"] == day["task"]
    assert donna["gauge"]["tokens"] == 181_000 and donna["gauge"]["past_flush_line"] is True
    assert donna["spend"]["today_usd"] == pytest.approx(day["cost"])
    assert donna["spend"]["daily_budget_usd"] == next(
        a["budget"]["daily_usd"] for a in usage["agents"] if a["agent"] == "donna"
    )
    assert snap["usage"]["today_usd"] == pytest.approx(usage["today_usd"])
    assert snap["usage"]["models_today"][0]["calls"] == 1
    assert snap["health"]["by_liveness"]["working"] == 1
    assert snap["health"]["by_liveness"]["offline"] == 22
    assert snap["liveness_stalled_after_seconds"]["donna"] == 900
    assert snap["liveness_offline_after_seconds"]["donna"] == 3_600

    assert snap["task_counts"]["in_progress"] == 1 and snap["task_counts"]["inbox"] == 1
    assert snap["columns"] == [c.value for c in COLUMNS]
    assert snap["transitions"]["inbox"] == sorted(t.value for t in TRANSITIONS[COLUMNS[0]])
    assert {t["title"] for t in snap["tasks"]} == {"Inbox digest", "Unrouted request"}

    [approval] = snap["approvals"]
    assert approval["id"] == day["approval"] and approval["waiting_for"] == ["human"]
    assert approval["operator_may_decide"] and approval["waiting_for_you"]
    [incident] = snap["incidents"]
    assert incident["id"] == day["incident"] and incident["severity"] == "P0"
    assert set(incident["waiting_for"]) == {"orchestrator", "human"}
    assert incident["waiting_for_you"] and incident["seconds_left"] > 0
    assert snap["messages"][-1]["id"] == day["message"]

    # Once the operator has confirmed the P0, it waits only for the orchestrator.
    with api.client() as operator:
        confirmed = operator.post(
            f"/api/v1/incidents/{day['incident']}/confirm", json={"comment": "seen it"}
        )
        assert confirmed.status_code == 200, confirmed.text
        [incident] = operator.get("/api/v1/dashboard/snapshot").json()["incidents"]
    assert incident["waiting_for"] == ["orchestrator"]
    assert not incident["operator_may_decide"] and not incident["waiting_for_you"]
    assert [(d["party"], d["comment"]) for d in incident["decisions"]] == [("human", "seen it")]
    assert snap["messages"][-1]["kind"] == "directive"


def test_spend_per_hour_counts_every_call_once(api: ControlPlane) -> None:
    day = _day(api)
    with api.client() as operator:
        series = operator.get("/api/v1/dashboard/series", params={"hours": 6}).json()
        bad = operator.get("/api/v1/dashboard/series", params={"hours": 0})
    assert len(series["buckets"]) == 6 and series["bucket_seconds"] == 3600
    current = series["buckets"][-1]
    assert current["calls"] == 1 and current["tokens"] == 12_800
    assert current["cost_usd"] == pytest.approx(day["cost"])
    assert sum(b["calls"] for b in series["buckets"]) == 1
    assert bad.status_code == 422 and error_of(bad)["field"] == "hours"


def test_an_agents_page_has_its_gauge_calls_notes_denials_tasks_and_messages(
    api: ControlPlane,
) -> None:
    day = _day(api)
    with api.client() as operator:
        donna = operator.get("/api/v1/dashboard/agents/donna").json()
        flow = operator.get("/api/v1/dashboard/agents/flow").json()
        unknown = operator.get("/api/v1/dashboard/agents/nobody")
    assert [g["tokens"] for g in donna["gauge_history"]] == [40_000, 90_000, 181_000]
    assert donna["gauge_history"][0]["flush_line"] == donna["agent"]["flush_line"]
    [call] = donna["calls"]
    assert call["input_tokens"] == 12_000 and call["task_id"] == day["task"]
    assert call["cost_usd"] == pytest.approx(day["cost"])
    [notes] = donna["notes"]
    assert [n["content"] for n in notes["notes"]] == ["Kept: Velo invoice due"]
    assert [t["id"] for t in donna["tasks"]] == [day["task"]]
    assert [m["id"] for m in donna["messages"]] == [day["message"]]
    assert donna["denials"] == []

    [denial] = flow["denials"]
    assert denial["action"]["command"] == "npm run build" and "exec" in denial["reason"]
    assert unknown.status_code == 404 and error_of(unknown)["field"] == "name"


def test_dashboard_reads_are_for_operators(api: ControlPlane) -> None:
    with api.agent("donna") as donna:
        for path in ("snapshot", "series", "agents/donna"):
            refused = donna.get(f"/api/v1/dashboard/{path}")
            assert refused.status_code == 403, path
            assert error_of(refused)["code"] == "forbidden"
    with api.anonymous() as anonymous:
        assert anonymous.get("/api/v1/dashboard/snapshot").status_code == 401
