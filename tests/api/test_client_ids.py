"""A report a runtime delivers twice (its answer was lost) is recorded once: 409 duplicate_id."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.server import ControlPlane, error_of

CALL = {"input_tokens": 1_000, "output_tokens": 200}


def _twice(client: httpx.Client, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
    """Send ``body`` twice: the first is recorded, the retry refused as a duplicate of it."""
    first = client.post(path, json=body)
    assert first.status_code == status, first.text
    retry = client.post(path, json=body)
    assert retry.status_code == 409, retry.text
    error = error_of(retry)
    assert (error["code"], error["field"]) == ("duplicate_id", "id"), error
    assert repr(body["id"]) in error["message"]
    answer: dict[str, Any] = first.json()
    return answer


def _events(operator: httpx.Client, type_: str) -> list[dict[str, Any]]:
    response = operator.get("/api/v1/events", params={"types": type_})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    return found


def test_runtime_reports_with_an_id_are_recorded_once(api: ControlPlane) -> None:
    with api.agent("donna") as donna, api.client() as operator:
        base = "/api/v1/agents/donna"
        _twice(donna, f"{base}/usage", CALL | {"id": "usage-1"}, 201)
        summary = operator.get("/api/v1/usage").json()
        row = next(a for a in summary["agents"] if a["agent"] == "donna")
        assert row["spent"]["daily_tokens"] == 1_200
        assert [m["calls"] for m in summary["models_this_month"]] == [1]
        assert len(_events(operator, "usage.recorded")) == 1

        # A refused compaction spends its id: the retry is a duplicate, not a second flag.
        refused = donna.post(
            f"{base}/compactions", json={"id": "compact-0", "tokens_before": 9, "tokens_after": 1}
        )
        assert error_of(refused)["code"] == "flush_required"
        again = donna.post(
            f"{base}/compactions", json={"id": "compact-0", "tokens_before": 9, "tokens_after": 1}
        )
        assert (again.status_code, error_of(again)["code"]) == (409, "duplicate_id")
        assert len(_events(operator, "memory.compaction_refused")) == 1

        _twice(donna, f"{base}/memory", {"id": "flush-1", "content": "decided: ship"}, 201)
        assert [n["content"] for n in donna.get(f"{base}/memory").json()["notes"]] == [
            "decided: ship"
        ]
        assert len(_events(operator, "memory.flushed")) == 1

        compacted = _twice(
            donna,
            f"{base}/compactions",
            {"id": "compact-1", "tokens_before": 9_000, "tokens_after": 1_000},
            201,
        )
        assert compacted["compactions"] == 1
        assert operator.get(base).json()["compactions"] == 1
        assert len(_events(operator, "memory.compacted")) == 1

        _twice(donna, f"{base}/cooldown", {"id": "cool-1", "retry_after_seconds": 30}, 200)
        assert len(_events(operator, "agent.cooling_down")) == 1

        # The key is (actor, id) whatever the kind: a flush's id cannot name a usage report...
        reused = donna.post(f"{base}/usage", json=CALL | {"id": "flush-1"})
        assert (reused.status_code, error_of(reused)["code"]) == (409, "duplicate_id")
        # ... while another actor's ids are its own.
        mine = operator.post(f"{base}/usage", json=CALL | {"id": "usage-1"})
        assert mine.status_code == 201, mine.text
        assert len(_events(operator, "usage.recorded")) == 2


def test_task_changes_with_an_id_are_recorded_once(api: ControlPlane) -> None:
    with api.agent("donna") as donna, api.client() as operator:
        created = _twice(operator, "/api/v1/tasks", {"id": "task-1", "title": "Renew fibre"}, 201)
        tasks = operator.get("/api/v1/tasks").json()["tasks"]
        assert [t["title"] for t in tasks] == ["Renew fibre"]
        path = f"/api/v1/tasks/{created['id']}"

        _twice(operator, f"{path}/assign", {"id": "assign-1", "assignee": "donna"}, 200)
        # Without the id the retry would be refused as an illegal move (already in_progress).
        _twice(donna, f"{path}/move", {"id": "move-1", "status": "in_progress"}, 200)
        _twice(donna, f"{path}/comments", {"id": "comment-1", "body": "signed"}, 201)

        history = [e["type"] for e in operator.get(path).json()["history"]]
        assert history == ["task.created", "task.assigned", "task.moved", "task.commented"]
        assert operator.get(path).json()["status"] == "in_progress"


def test_an_incident_with_an_id_is_raised_once(api: ControlPlane) -> None:
    with (
        api.agent("donna") as donna,
        api.agent("jarvis") as jarvis,
        api.client() as operator,
    ):
        body = {"id": "incident-1", "severity": "P3", "title": "noisy log"}
        _twice(donna, "/api/v1/incidents", body, 201)
        listed = operator.get("/api/v1/incidents").json()["incidents"]
        assert [i["title"] for i in listed] == ["noisy log"]
        assert len(_events(operator, "incident.raised")) == 1

        # An impersonation is refused and audited once; its retry is a duplicate.
        forged = body | {"agent": "donna"}
        first = jarvis.post("/api/v1/incidents", json=forged)
        assert first.status_code == 403, first.text
        retry = jarvis.post("/api/v1/incidents", json=forged)
        assert (retry.status_code, error_of(retry)["code"]) == (409, "duplicate_id")
        assert len(operator.get("/api/v1/incidents").json()["incidents"]) == 1
        assert len(_events(operator, "incident.raised")) == 2
