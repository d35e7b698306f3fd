"""The orchestrator's powers on the server: route, nudge, reassign, direct, suspend, resume,
confirm — for operators and the orchestrator-role agent only, each refusal the one error shape."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.server import Server, error_of


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _refused(response: httpx.Response, status: int, code: str, field: str | None) -> str:
    assert response.status_code == status, response.text
    error = error_of(response)
    assert (error["code"], error["field"]) == (code, field), error
    message: str = error["message"]
    return message


def test_the_orchestrator_routes_and_governs_the_fleet_and_no_other_agent_may(
    server: Server,
) -> None:
    with (
        server.client() as operator,
        server.agent("jarvis") as jarvis,
        server.agent("donna") as donna,
        server.agent("apex") as apex,
        server.agent("flow") as flow,
        server.agent("sentinel") as sentinel,
    ):
        for client, name in ((apex, "apex"), (donna, "donna"), (flow, "flow")):
            _ok(client.post(f"/api/v1/agents/{name}/heartbeat", json={}))

        # Routing: the task is created and assigned, and the log says why.
        routed = _ok(
            jarvis.post(
                "/api/v1/route",
                json={"title": "Draft the supplier contract", "priority": "high"},
            )
        )
        assert (routed["agent"], routed["rule"]) == ("apex", "legal")
        task = routed["task"]
        assert task["assignee"] == "apex" and task["status"] == "assigned"
        assert task["creator"] == "agent:jarvis" and task["priority"] == "high"
        history = _ok(operator.get(f"/api/v1/tasks/{task['id']}"))["history"]
        assert [h["type"] for h in history] == ["task.created", "task.assigned", "routing.decided"]
        decided = history[-1]["data"]
        assert decided["explanation"] == routed["explanation"]
        assert (
            "chose apex (legal): role legal; holds legal.draft; idle; 0 open tasks"
            in (decided["explanation"])
        )

        dry = _ok(
            operator.post("/api/v1/route", json={"title": "Triage the inbox", "dry_run": True})
        )
        assert (dry["agent"], dry["task"], dry["task_id"]) == ("donna", None, None)
        assert "holds email.send" in dry["explanation"]

        nothing = _ok(operator.post("/api/v1/route", json={"title": "Water the plants"}))
        assert nothing["agent"] is None and nothing["task"]["status"] == "inbox"
        assert nothing["summary"].startswith("no rule matched")
        # Elon has never heartbeated: the outage waits in the inbox, and the event says so.
        outage = _ok(jarvis.post("/api/v1/route", json={"title": "Outage on the velo server"}))
        assert outage["task"]["assignee"] is None
        assert "elon is offline" in outage["summary"]
        decided_events = _ok(operator.get("/api/v1/events", params={"types": "routing.decided"}))[
            "events"
        ]
        assert [e["data"]["agent"] for e in decided_events] == ["apex", "donna", None, None]

        _refused(donna.post("/api/v1/route", json={"title": "x"}), 403, "forbidden", None)
        _refused(operator.post("/api/v1/route", json={"title": ""}), 422, "invalid", "title")
        _refused(
            operator.post("/api/v1/route", json={"title": "x", "capabilities": ["Bad Cap"]}),
            422,
            "invalid",
            "capabilities[0]",
        )
        _refused(
            operator.post("/api/v1/route", json={"title": "x", "kind": "X!"}),
            422,
            "invalid",
            "kind",
        )
        forged = operator.post("/api/v1/events", json={"type": "routing.decided", "data": {}})
        assert forged.status_code == 422 and "control plane only" in error_of(forged)["message"]

        # Nudge, reassign, direct: the orchestrator may; another agent may not.
        _ok(jarvis.post("/api/v1/agents/flow/nudge", json={"reason": "deploy window"}))
        message = _refused(donna.post("/api/v1/agents/flow/nudge", json={}), 403, "forbidden", None)
        assert "has role 'communications'" in message
        moved = _ok(jarvis.post(f"/api/v1/tasks/{task['id']}/assign", json={"assignee": "donna"}))
        assert moved["assignee"] == "donna"
        _refused(
            flow.post(f"/api/v1/tasks/{task['id']}/assign", json={"assignee": "flow"}),
            403,
            "forbidden",
            None,
        )
        _ok(
            jarvis.post(
                "/api/v1/messages", json={"to": "elon", "kind": "directive", "body": "Check velo"}
            ),
            201,
        )

        # Suspension: the heartbeat answers suspended, so the runtime makes no model call.
        suspended = _ok(jarvis.post("/api/v1/agents/flow/suspend", json={"reason": "rogue builds"}))
        assert suspended["liveness"] == "suspended" and suspended["by"] == "agent:jarvis"
        assert _ok(flow.post("/api/v1/agents/flow/heartbeat", json={}))["liveness"] == "suspended"
        card = _ok(operator.get("/api/v1/agents/flow"))
        assert card["paused"] and card["paused_reason"] == "suspended by agent:jarvis: rogue builds"
        check = flow.post("/api/v1/agents/flow/budget/check", json={})
        assert "resume it" in _refused(check, 409, "paused", None)
        _ok(operator.patch("/api/v1/agents/flow/budget", json={"daily_usd": 9, "reason": "more"}))
        assert _ok(operator.get("/api/v1/agents/flow"))["liveness"] == "suspended"
        _refused(
            jarvis.post("/api/v1/agents/flow/suspend", json={"reason": "again"}),
            409,
            "already_suspended",
            None,
        )
        _refused(
            jarvis.post("/api/v1/agents/jarvis/suspend", json={"reason": "rest"}),
            403,
            "forbidden",
            "name",
        )
        _refused(
            sentinel.post("/api/v1/agents/flow/resume", json={"reason": "x"}),
            403,
            "forbidden",
            None,
        )
        _refused(jarvis.post("/api/v1/agents/flow/resume", json={}), 422, "invalid", "reason")
        _refused(
            operator.post("/api/v1/agents/flo/suspend", json={"reason": "x"}),
            404,
            "not_found",
            "name",
        )
        resumed = _ok(jarvis.post("/api/v1/agents/flow/resume", json={"reason": "lesson learnt"}))
        assert resumed["liveness"] == "idle"
        assert _ok(flow.post("/api/v1/agents/flow/heartbeat", json={}))["liveness"] == "idle"
        _refused(
            operator.post("/api/v1/agents/flow/resume", json={"reason": "x"}),
            409,
            "not_suspended",
            None,
        )
        _ok(operator.post("/api/v1/agents/jarvis/suspend", json={"reason": "maintenance"}))
        _ok(operator.post("/api/v1/agents/jarvis/resume", json={"reason": "done"}))
        # What an operator suspended, only an operator lifts: not the orchestrator.
        _ok(operator.post("/api/v1/agents/flow/suspend", json={"reason": "audit"}))
        lifted = jarvis.post("/api/v1/agents/flow/resume", json={"reason": "looks fine"})
        assert "only an operator resumes it" in _refused(lifted, 403, "forbidden", "name")
        _ok(operator.post("/api/v1/agents/flow/resume", json={"reason": "audit done"}))
        events = _ok(
            operator.get("/api/v1/events", params={"types": "agent.suspended,agent.resumed"})
        )["events"]
        assert [(e["type"], e["subject"], e["actor"]) for e in events] == [
            ("agent.suspended", "agent:flow", "agent:jarvis"),
            ("agent.resumed", "agent:flow", "agent:jarvis"),
            ("agent.suspended", "agent:jarvis", server_operator(events)),
            ("agent.resumed", "agent:jarvis", server_operator(events)),
            ("agent.suspended", "agent:flow", server_operator(events)),
            ("agent.resumed", "agent:flow", server_operator(events)),
        ]

        # A P1 waits for the orchestrator's confirmation; Jarvis's token confirms it.
        p1 = _ok(
            sentinel.post("/api/v1/incidents", json={"severity": "P1", "title": "Disk full"}), 201
        )
        assert p1["status"] == "unconfirmed"
        confirmed = _ok(
            jarvis.post(f"/api/v1/incidents/{p1['id']}/confirm", json={"comment": "seen"})
        )
        assert confirmed["status"] == "confirmed"

        # The orchestrator reads the briefing it writes; other agents still may not.
        assert _ok(jarvis.get("/api/v1/briefing"))["written"] is None
        _refused(donna.get("/api/v1/briefing"), 403, "forbidden", None)

    printed = server.mcos("route", "Variance analysis for Velocity Fibre", "--dry-run").stdout
    assert printed.startswith("nobody chosen; nothing created (dry run)\n")
    assert "vega is offline" in printed
    made = server.mcos("route", "Review the agreement", "--kind", "legal-document").stdout
    assert made.startswith("routed task #") and " to apex\n" in made
    bad = server.mcos("route", "x", "--kind", "Bad Kind", check=False)
    assert bad.returncode == 1 and "kind" in bad.stderr


def server_operator(events: list[dict[str, Any]]) -> str:
    """The operator actor as the log records it (its label is set by ``mcos init``)."""
    actor: str = events[-1]["actor"]
    assert actor.startswith("operator:")
    return actor
