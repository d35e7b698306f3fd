"""``POST /api/v1/reports``: a runtime's queued reports in one request, each applied in order and
answered as its own route would answer it; refused items leave nothing, and an agent's later
reports wait behind one that must go on its own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.server import ControlPlane, error_of


def _runner(api: ControlPlane, machine: str) -> httpx.Client:
    with api.client() as operator:
        issued = operator.post("/api/v1/tokens", json={"kind": "runner", "machine": machine})
        assert issued.status_code == 201, issued.text
    return api.client(issued.json()["token"])


def _task_for(api: ControlPlane, agent: str) -> int:
    with api.client() as operator:
        created = operator.post("/api/v1/tasks", json={"title": "Ship it", "assignee": agent})
        assert created.status_code == 201, created.text
        task_id: int = created.json()["id"]
    return task_id


def _events(api: ControlPlane, types: str) -> list[dict[str, Any]]:
    with api.client() as operator:
        found: list[dict[str, Any]] = operator.get(
            "/api/v1/events", params={"types": types}
        ).json()["events"]
    return found


def test_a_runners_reports_are_applied_in_order_in_one_request(api: ControlPlane) -> None:
    task = _task_for(api, "flow")
    reports = [
        {"agent": "flow", "path": f"/api/v1/tasks/{task}/move", "body": {"id": "r-1",
         "status": "in_progress"}},
        {"agent": "flow", "path": "/api/v1/actions", "body": {"id": "r-2", "kind": "file.write",
         "paths": ["/srv/flow/notes/plan.md"], "acted": True}},
        {"agent": "flow", "path": "/api/v1/agents/flow/usage", "body": {"id": "r-3",
         "model": "claude-sonnet-4-5", "input_tokens": 1_000, "output_tokens": 200}},
        {"agent": "flow", "path": f"/api/v1/tasks/{task}/comments", "body": {"id": "r-4",
         "body": "Written."}},
        {"agent": "flow", "path": f"/api/v1/tasks/{task}/move", "body": {"id": "r-5",
         "status": "review"}},
        {"agent": "flow", "path": "/api/v1/events", "body": {"id": "r-7",
         "type": "runtime.note", "data": {"n": 1}}},
    ]  # fmt: skip
    # Donna runs on the Mac Mini: this runner token may not act as her.
    reports.append({"agent": "donna", "path": "/api/v1/events", "body": {"id": "r-6",
                    "type": "runtime.note", "data": {}}})  # fmt: skip
    with _runner(api, "velo") as runner:
        answer = runner.post("/api/v1/reports", json={"reports": reports})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [r["status"] for r in results] == [200, 200, 201, 201, 200, 201, 403]
        assert results[4]["body"]["status"] == "review"
        assert results[6]["error"]["field"] == "reports[6].agent"
        # Sent again (the answer was lost): every one counts once, answered duplicate_id.
        again = runner.post("/api/v1/reports", json={"reports": reports[:6]}).json()["results"]
        assert [r["error"]["code"] for r in again] == ["duplicate_id"] * 6
    with api.client() as operator:
        shown = operator.get(f"/api/v1/tasks/{task}").json()
        assert shown["status"] == "review"
        assert [e["type"] for e in shown["history"]].count("task.commented") == 1
    used = [e for e in _events(api, "usage.recorded") if e["actor"].endswith("flow")]
    assert [(e["data"]["input_tokens"], e["data"]["output_tokens"]) for e in used] == [(1000, 200)]
    decided = [e for e in _events(api, "policy.decided") if e["data"]["agent"] == "flow"]
    assert len(decided) == 1 and decided[0]["data"]["acted"] is True
    assert decided[0]["data"]["outcome"] == "allow"


def test_an_acted_action_the_policy_now_refuses_is_recorded_and_refused(api: ControlPlane) -> None:
    """Flow has no ``exec``: a runtime that says it ran a command on its own 'allow' acted on
    another fleet. The control plane records its own answer and refuses the report."""
    reports = [{"path": "/api/v1/actions", "body": {"kind": "shell.exec", "command": "ls",
                "acted": True}}]  # fmt: skip
    with api.agent("flow") as flow:
        result = flow.post("/api/v1/reports", json={"reports": reports}).json()["results"][0]
    assert result["status"] == 409 and result["error"]["code"] == "policy_changed"
    decided = [e for e in _events(api, "policy.decided") if e["data"]["agent"] == "flow"]
    assert [(e["data"]["outcome"], e["data"]["acted"]) for e in decided] == [("deny", True)]


def test_later_reports_wait_behind_one_that_must_go_alone(api: ControlPlane) -> None:
    task = _task_for(api, "flow")
    reports = [
        {"path": "/api/v1/messages", "body": {"to": "gene", "body": "hello"}},
        {"path": f"/api/v1/tasks/{task}/comments", "body": {"body": "after the message"}},
        {"path": "/api/v1/actions", "body": {"kind": "file.write", "paths": ["/srv/flow/a.md"]}},
    ]
    with api.agent("flow") as flow:
        results = flow.post("/api/v1/reports", json={"reports": reports}).json()["results"]
    assert [r["error"]["code"] for r in results] == ["not_attempted"] * 3
    with api.client() as operator:
        history = operator.get(f"/api/v1/tasks/{task}").json()["history"]
    assert "task.commented" not in [e["type"] for e in history]


def test_bad_reports_are_refused_by_field_and_the_rest_applied(api: ControlPlane) -> None:
    task = _task_for(api, "flow")
    reports = [
        {"path": f"/api/v1/tasks/{task}/move", "body": {"status": "sideways"}},
        {"path": "/api/v1/tasks/0/comments", "body": {"body": "x"}},
        {"path": "/api/v1/agents/Not-A-Name/usage", "body": {"input_tokens": 1}},
        {"path": "/api/v1/agents/gene/usage", "body": {"input_tokens": 1, "output_tokens": 1}},
        {"path": "/api/v1/actions", "body": {"kind": "file.write", "acted": True,
         "approval_id": 3}},
        {"path": f"/api/v1/tasks/{task}/comments", "body": {"body": "still applied"}},
    ]  # fmt: skip
    with api.agent("flow") as flow:
        results = flow.post("/api/v1/reports", json={"reports": reports}).json()["results"]
        errors = [(r["status"], r.get("error", {}).get("field")) for r in results]
        assert errors == [
            (422, "reports[0].body.status"),
            (422, "reports[1].path"),
            (422, "reports[2].path"),
            (403, "agent"),
            (422, "reports[4].body"),
            (201, None),
        ]
        for body, field in [
            ({}, "reports"),
            ({"reports": []}, "reports"),
            ({"reports": [{"path": "/x", "body": {}, "method": "DELETE"}]}, "reports[0].method"),
            ({"reports": [{"path": "/x"}]}, "reports[0].body"),
        ]:
            refused = flow.post("/api/v1/reports", json=body)
            assert refused.status_code == 422, refused.text
            assert error_of(refused)["field"] == field
    with api.client() as operator:
        refused = operator.post("/api/v1/reports", json={"reports": reports[-1:]})
        assert refused.status_code == 403 and error_of(refused)["field"] == "Authorization"


def test_a_report_refused_in_its_service_leaves_the_others_applied_once(api: ControlPlane) -> None:
    """A bundle first runs whole; a report that raises sends it round again, each report alone:
    what the others wrote (an audit event of a refusal included) is there once, not twice."""
    mine, gene = _task_for(api, "flow"), _task_for(api, "gene")
    reports = [
        {"path": f"/api/v1/tasks/{mine}/comments", "body": {"id": "i-1", "body": "first"}},
        {"path": "/api/v1/actions", "body": {"id": "i-2", "kind": "shell.exec", "command": "ls",
         "acted": True}},
        {"path": f"/api/v1/tasks/{gene}/move", "body": {"id": "i-3", "status": "in_progress"}},
        {"path": "/api/v1/agents/flow/usage", "body": {"id": "i-4",
         "model": "claude-sonnet-4-5", "input_tokens": 10, "output_tokens": 2}},
    ]  # fmt: skip
    with api.agent("flow") as flow:
        results = flow.post("/api/v1/reports", json={"reports": reports}).json()["results"]
    assert [r["status"] for r in results] == [201, 409, 403, 201]
    assert results[2]["error"]["code"] != "not_attempted"
    with api.client() as operator:
        history = operator.get(f"/api/v1/tasks/{mine}").json()["history"]
        genes = operator.get(f"/api/v1/tasks/{gene}").json()
    assert [e["type"] for e in history].count("task.commented") == 1
    assert genes["status"] == "assigned"
    decided = [e for e in _events(api, "policy.decided") if e["data"]["agent"] == "flow"]
    assert [e["data"]["outcome"] for e in decided] == ["deny"]
    used = [e for e in _events(api, "usage.recorded") if e["actor"].endswith("flow")]
    assert len(used) == 1


def test_an_id_repeated_within_one_bundle_counts_once(api: ControlPlane) -> None:
    task = _task_for(api, "flow")
    usage = {"id": "u-1", "model": "claude-sonnet-4-5", "input_tokens": 10, "output_tokens": 2}
    comment = {"id": "c-1", "body": "Once."}
    event = {"id": "e-1", "type": "runtime.note", "data": {}}
    reports = [
        {"agent": "flow", "path": "/api/v1/agents/flow/usage", "body": usage},
        {"agent": "flow", "path": f"/api/v1/tasks/{task}/comments", "body": comment},
        {"agent": "flow", "path": "/api/v1/events", "body": event},
        # A runner that queued the same reports twice (a retried put): each is kept once.
        {"agent": "flow", "path": "/api/v1/agents/flow/usage", "body": usage},
        {"agent": "flow", "path": f"/api/v1/tasks/{task}/comments", "body": comment},
        {"agent": "flow", "path": "/api/v1/events", "body": event},
    ]
    with _runner(api, "velo") as runner:
        results = runner.post("/api/v1/reports", json={"reports": reports}).json()["results"]
    assert [r["status"] for r in results[:3]] == [201, 201, 201]
    assert [r["error"]["code"] for r in results[3:]] == ["duplicate_id"] * 3
    used = [e for e in _events(api, "usage.recorded") if e["data"].get("input_tokens") == 10]
    assert len(used) == 1
    with api.client() as operator:
        history = operator.get(f"/api/v1/tasks/{task}").json()["history"]
    assert [e["type"] for e in history].count("task.commented") == 1
    assert len([e for e in _events(api, "runtime.note") if e["actor"].endswith("flow")]) == 1


def test_usage_reports_in_one_bundle_each_see_the_spend_before_them(api: ControlPlane) -> None:
    """The second report's answer counts the first's tokens, and the one that crosses the
    budget pauses the agent, as when they arrive one by one."""
    with api.client() as operator:
        changed = operator.patch(
            "/api/v1/agents/flow/budget",
            json={"daily_tokens": 2_500, "reason": "a small day for the test"},
        )
        assert changed.status_code == 200, changed.text
    sizes = [(1_000, 200), (800, 100), (500, 0)]
    reports = [
        {"agent": "flow", "path": "/api/v1/agents/flow/usage", "body": {"id": f"t-{n}",
         "model": "claude-sonnet-4-5", "input_tokens": i, "output_tokens": o}}
        for n, (i, o) in enumerate(sizes)
    ]  # fmt: skip
    with _runner(api, "velo") as runner:
        results = runner.post("/api/v1/reports", json={"reports": reports}).json()["results"]
    assert [r["status"] for r in results] == [201, 201, 201], results
    # Flow has spent nothing today in this fresh control plane.
    assert [r["body"]["spent"]["daily_tokens"] for r in results] == [1_200, 2_100, 2_600]
    assert [r["body"]["paused"] for r in results] == [False, False, True]
    costs = [r["body"]["cost_usd"] for r in results]
    usd = [r["body"]["spent"]["daily_usd"] for r in results]
    assert usd[2] - usd[0] == pytest.approx(costs[1] + costs[2])
    with api.client() as operator:
        shown = operator.get("/api/v1/agents/flow").json()
    assert shown["paused"] is True, shown
