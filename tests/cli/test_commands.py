"""The noun commands, run as a user runs them, against a real server."""

from __future__ import annotations

import json

import httpx

from tests.fixtures.server import Server


def test_agents_ls_shows_a_live_agent_with_its_gauge(server: Server) -> None:
    token = server.mcos("agents", "token", "donna").stdout.strip()
    assert token.startswith("mcos_a_")
    response = httpx.post(
        f"{server.url}/api/v1/agents/donna/heartbeat",
        headers={"Authorization": f"Bearer {token}"},
        json={"status": "working", "context_tokens": 150_000, "note": "inbox digest"},
    )
    assert response.status_code == 200, response.text
    table = server.mcos("agents", "ls").stdout
    donna = next(line for line in table.splitlines() if line.startswith("donna "))
    assert "working" in donna and "75% (150k/200k)" in donna and "inbox digest" in donna
    jarvis = next(line for line in table.splitlines() if line.startswith("jarvis "))
    assert "offline" in jarvis and "never" in jarvis
    listed = json.loads(server.mcos("agents", "ls", "--json").stdout)
    assert len(listed) == 23
    assert {a["name"]: a["liveness"] for a in listed}["donna"] == "working"
    shown = json.loads(server.mcos("agents", "show", "donna", "--json").stdout)
    assert shown["gauge"]["tokens"] == 150_000
    assert shown["credential_env"] == "MCOS_DONNA_ANTHROPIC_KEY"
    assert "Communications" in server.mcos("agents", "show", "donna").stdout


def test_tasks_walk_the_board_from_the_cli(server: Server) -> None:
    created = json.loads(
        server.mcos(
            "tasks",
            "add",
            "Draft IC agreement",
            "--assignee",
            "apex",
            "--priority",
            "high",
            "--kind",
            "legal-document",
            "--json",
        ).stdout
    )
    task = str(created["id"])
    assert created["status"] == "assigned"
    server.mcos("tasks", "move", task, "in_progress")
    refused = server.mcos("tasks", "move", task, "done", check=False)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "cannot move to done" in refused.stderr and "field: status" in refused.stderr
    server.mcos("tasks", "move", task, "review")
    server.mcos("tasks", "assign", task, "jarvis")
    shown = server.mcos("tasks", "show", task).stdout
    assert "Draft IC agreement" in shown and "assignee jarvis" in shown
    for step in ("task.created", "task.moved", "task.assigned"):
        assert step in shown
    listed = json.loads(server.mcos("tasks", "ls", "--status", "review", "--json").stdout)
    assert [t["id"] for t in listed] == [created["id"]]
    assert "Draft IC agreement" in server.mcos("tasks", "ls").stdout


def test_messages_send_and_list(server: Server) -> None:
    server.mcos("messages", "send", "Digest by 07:00", "--to", "donna", "--kind", "directive")
    server.mcos("messages", "send", "Deploy window tonight", "--channel", "ops")
    both = server.mcos("messages", "send", "x", "--to", "donna", "--channel", "ops", check=False)
    assert both.returncode == 2 and "exactly one of" in both.stderr
    directives = json.loads(server.mcos("messages", "ls", "--kind", "directive", "--json").stdout)
    assert [(m["to"], m["body"]) for m in directives] == [("donna", "Digest by 07:00")]
    assert "Deploy window tonight" in server.mcos("messages", "ls", "--channel", "ops").stdout


def test_errors_are_one_line_and_non_zero(server: Server) -> None:
    unknown = server.mcos("agents", "show", "nobody", check=False)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "error: no agent named 'nobody' in the fleet (field: name)"
    bad_token = server.mcos("--token", "mcos_o_wrong", "agents", "ls", check=False)
    assert bad_token.returncode == 1 and "unknown, expired or revoked token" in bad_token.stderr
    server.stop()
    down = server.mcos("agents", "ls", check=False)
    assert down.returncode == 1
    assert f"cannot reach the control plane at {server.url}" in down.stderr
