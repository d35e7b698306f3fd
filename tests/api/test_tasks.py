from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.server import ControlPlane, error_of


def _create(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def _move(client: httpx.Client, task_id: int, status: str) -> httpx.Response:
    return client.post(f"/api/v1/tasks/{task_id}/move", json={"status": status})


def test_tasks_move_by_the_board_rules_and_keep_their_history(api: ControlPlane) -> None:
    """Two stories on one server (a server start is the expensive part)."""
    _walk_the_board(api)
    _dependencies_assignees_and_who_may_move_a_card(api)


def _walk_the_board(api: ControlPlane) -> None:
    with api.client() as operator, api.agent("flow") as flow:
        inbox = _create(operator, title="Renew the fibre contract", priority="high")
        assert (inbox["status"], inbox["assignee"], inbox["creator"]) == (
            "inbox",
            None,
            "operator:operator",
        )
        direct = _create(operator, title="Fix the build", assignee="elon")
        assert (direct["status"], direct["assignee"]) == ("assigned", "elon")

        # Nobody to do it yet: an inbox card cannot start.
        refused = _move(operator, inbox["id"], "in_progress")
        assert refused.status_code == 409
        assert error_of(refused)["code"] == "illegal_transition"

        assigned = operator.post(f"/api/v1/tasks/{inbox['id']}/assign", json={"assignee": "flow"})
        assert assigned.status_code == 200, assigned.text
        assert (assigned.json()["status"], assigned.json()["assignee"]) == ("assigned", "flow")

        # assigned -> done skips the board: refused with the allowed targets, card unchanged.
        skip = _move(flow, inbox["id"], "done")
        assert skip.status_code == 409
        error = error_of(skip)
        assert error["code"] == "illegal_transition"
        assert error["field"] == "status"
        for allowed in ("in_progress", "inbox", "blocked"):
            assert allowed in error["message"]
        assert operator.get(f"/api/v1/tasks/{inbox['id']}").json()["status"] == "assigned"

        # The assignee walks it through the board, to review.
        for status in ("in_progress", "review"):
            moved = _move(flow, inbox["id"], status)
            assert moved.status_code == 200, moved.text
            assert moved.json()["status"] == status
        # Nobody accepts their own work, nor an agent with no say in it; Flow's supervisor does.
        own = _move(flow, inbox["id"], "done")
        assert own.status_code == 403 and "its own work" in error_of(own)["message"]
        with api.agent("donna") as donna:
            outsider = _move(donna, inbox["id"], "done")
        assert outsider.status_code == 403 and "not a reviewer" in error_of(outsider)["message"]
        with api.agent("elon") as elon:
            accepted = _move(elon, inbox["id"], "done")
        assert accepted.status_code == 200 and accepted.json()["status"] == "done"

        # done is final.
        for status in ("review", "in_progress", "inbox"):
            final = _move(operator, inbox["id"], status)
            assert final.status_code == 409
            assert error_of(final)["code"] == "illegal_transition"
            assert error_of(final)["field"] == "status"
        reassign = operator.post(f"/api/v1/tasks/{inbox['id']}/assign", json={"assignee": "elon"})
        assert reassign.status_code == 409

        patched = operator.patch(
            f"/api/v1/tasks/{inbox['id']}", json={"title": "Renew fibre", "priority": "urgent"}
        )
        assert patched.status_code == 200, patched.text
        assert (patched.json()["title"], patched.json()["priority"]) == ("Renew fibre", "urgent")
        null_description = operator.patch(
            f"/api/v1/tasks/{inbox['id']}", json={"description": None}
        )
        assert null_description.status_code == 422
        assert error_of(null_description)["field"] == "description"

        comment = flow.post(f"/api/v1/tasks/{inbox['id']}/comments", json={"body": "signed"})
        assert comment.status_code == 201, comment.text

        task = operator.get(f"/api/v1/tasks/{inbox['id']}").json()
    assert task["status"] == "done"
    assert task["title"] == "Renew fibre"
    history = [(e["type"], e["actor"], e["data"].get("to")) for e in task["history"]]
    assert history == [
        ("task.created", "operator:operator", None),
        ("task.assigned", "operator:operator", "flow"),
        ("task.moved", "agent:flow", "in_progress"),
        ("task.moved", "agent:flow", "review"),
        ("task.moved", "agent:elon", "done"),
        ("task.updated", "operator:operator", None),
        ("task.commented", "agent:flow", None),
    ]
    seqs = [e["seq"] for e in task["history"]]
    assert seqs == sorted(seqs)
    assert task["history"][-1]["data"]["body"] == "signed"


def _dependencies_assignees_and_who_may_move_a_card(api: ControlPlane) -> None:
    with api.client() as operator, api.agent("flow") as flow:
        design = _create(operator, title="Design the schema", assignee="elon")
        build = _create(
            operator, title="Build the service", assignee="flow", depends_on=[design["id"]]
        )
        assert operator.get(f"/api/v1/tasks/{build['id']}").json()["depends_on"] == [design["id"]]

        blocked = _move(flow, build["id"], "in_progress")
        assert blocked.status_code == 409
        error = error_of(blocked)
        assert error["code"] == "illegal_transition"
        assert f"#{design['id']}" in error["message"]
        assert operator.get(f"/api/v1/tasks/{build['id']}").json()["status"] == "assigned"

        # flow neither holds nor created the design card.
        foreign = _move(flow, design["id"], "in_progress")
        assert foreign.status_code == 403
        assert error_of(foreign)["code"] == "forbidden"
        foreign_edit = flow.patch(f"/api/v1/tasks/{design['id']}", json={"title": "mine now"})
        assert foreign_edit.status_code == 403
        assert operator.get(f"/api/v1/tasks/{design['id']}").json()["title"] == "Design the schema"

        for status in ("in_progress", "review", "done"):
            assert _move(operator, design["id"], status).status_code == 200
        started = _move(flow, build["id"], "in_progress")
        assert started.status_code == 200, started.text

        # A card flow created is flow's to move, even while someone else holds it.
        own = _create(flow, title="Write the runbook", assignee="elon")
        assert own["creator"] == "agent:flow"
        assert _move(flow, own["id"], "in_progress").status_code == 200

        unknown = operator.post("/api/v1/tasks", json={"title": "x", "assignee": "nobody"})
        assert unknown.status_code == 422
        assert error_of(unknown)["field"] == "assignee"
        assert "nobody" in error_of(unknown)["message"]
        bad_assign = operator.post(f"/api/v1/tasks/{own['id']}/assign", json={"assignee": "ghost"})
        assert bad_assign.status_code == 422
        assert error_of(bad_assign)["field"] == "assignee"
        missing_dep = operator.post("/api/v1/tasks", json={"title": "x", "depends_on": [9999]})
        assert missing_dep.status_code == 422
        assert error_of(missing_dep)["field"] == "depends_on[0]"

        titles = [t["title"] for t in operator.get("/api/v1/tasks").json()["tasks"]]
    assert titles[-3:] == ["Design the schema", "Build the service", "Write the runbook"]
