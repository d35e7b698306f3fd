"""``mcos operators``: people with roles, each with their own token, and every decision a person
makes recorded under their name (alice the owner, bob the approver)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy import select

from mcos.storage import tables
from mcos.storage.database import Database
from tests.fixtures.server import Server, error_of, mcos_env, run_mcos


def _as(
    server: Server, token: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``mcos ARGS`` run by the person holding ``token``."""
    return run_mcos(*args, env=server.env | {"MCOS_TOKEN": token}, check=check)


def _add(server: Server, name: str, role: str) -> str:
    added = server.mcos("operators", "add", name, "--role", role)
    assert f"{name} is an {role}" in added.stderr
    token = added.stdout.strip()
    assert token.startswith("mcos_o_"), "the new person's token, printed once"
    return token


def test_operators_are_added_listed_given_roles_and_removed(server: Server) -> None:
    alice = _add(server, "alice", "owner")
    bob = _add(server, "bob", "approver")
    listed = json.loads(server.mcos("operators", "ls", "--json").stdout)
    assert [(o["name"], o["role"], o["tokens"]) for o in listed] == [
        ("alice", "owner", 1),
        ("bob", "approver", 1),
        ("operator", "owner", 1),  # `mcos init`'s first person
    ]
    assert "approver" in server.mcos("operators", "ls").stdout

    for args, field in (
        (("add", "Bob Smith", "--role", "viewer"), "name"),
        (("add", "alice", "--role", "viewer"), "name"),  # already there
        (("role", "nobody", "viewer"), "name"),
    ):
        refused = server.mcos("operators", *args, check=False)
        assert refused.returncode != 0 and f"(field: {field})" in refused.stderr, refused.stderr
    assert server.mcos("operators", "add", "carl", "--role", "admin", check=False).returncode == 2

    # An approver works the fleet but names no operator; a viewer changes nothing at all.
    refused = _as(server, bob, "operators", "add", "eve", "--role", "viewer", check=False)
    assert refused.returncode != 0 and "only an owner" in refused.stderr
    assert "bob is now viewer" in server.mcos("operators", "role", "bob", "viewer").stdout
    refused = _as(server, bob, "tasks", "add", "Tidy the backlog", check=False)
    assert refused.returncode != 0 and "viewer" in refused.stderr, "the role holds at once"
    assert json.loads(_as(server, bob, "operators", "ls", "--json").stdout), "a viewer still sees"

    # The fleet always keeps an owner.
    server.mcos("operators", "role", "alice", "viewer")
    for args in (("role", "operator", "approver"), ("remove", "operator")):
        refused = server.mcos("operators", *args, check=False)
        assert refused.returncode != 0 and "last owner" in refused.stderr, refused.stderr
    server.mcos("operators", "role", "alice", "owner")

    removed = server.mcos("operators", "remove", "bob").stdout
    assert "removed bob" in removed
    with server.client(bob) as gone:
        answer = gone.get("/api/v1/agents")
        assert answer.status_code == 401, "a removed person's token stops at once"
    tokens = json.loads(server.mcos("tokens", "ls", "--all", "--json").stdout)
    assert [t["status"] for t in tokens if t["label"] == "bob"] == ["revoked"]
    # Now alice may remove the first owner: she is an owner too.
    _as(server, alice, "operators", "remove", "operator")
    with server.client() as first:
        assert first.get("/api/v1/agents").status_code == 401


def test_each_decision_names_the_person_who_made_it(server: Server) -> None:
    alice = _add(server, "alice", "owner")
    bob = _add(server, "bob", "approver")
    with server.agent("flow") as flow:
        approval = flow.post("/api/v1/approvals", json={"capability": "exec", "reason": "ci"})
        incident = flow.post("/api/v1/incidents", json={"severity": "P2", "title": "odd port"})
    with server.client(alice) as owner:
        task = owner.post("/api/v1/tasks", json={"title": "Fix CI", "assignee": "flow"}).json()
        committee = owner.post(
            "/api/v1/committees",
            json={"title": "pnpm?", "question": "Adopt pnpm?", "members": ["flow"], "human": True},
        ).json()
    approval_id, incident_id = str(approval.json()["id"]), str(incident.json()["id"])

    _as(server, alice, "approvals", "approve", approval_id, "--comment", "for the CI fix")
    _as(server, alice, "usage", "budget", "flow", "--daily-usd", "3", "--reason", "CI week")
    _as(server, bob, "incidents", "confirm", incident_id)
    _as(server, bob, "tasks", "move", str(task["id"]), "in_progress")
    _as(server, bob, "committees", "vote", str(committee["id"]), "for", "--reasons", "faster")
    with server.client(bob) as approver:
        commented = approver.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "on it"})
        assert commented.status_code == 201, commented.text
        budget = approver.patch("/api/v1/agents/flow/budget", json={"daily_usd": 9, "reason": "x"})
        assert budget.status_code == 403 and error_of(budget)["code"] == "owner_only"

    with server.client() as anyone:
        log = anyone.get("/api/v1/events", params={"types": ",".join(DECISIONS)}).json()
        snapshot = anyone.get("/api/v1/dashboard/snapshot").json()
    actors: dict[str, set[str]] = {}
    for event in log["events"]:
        actors.setdefault(event["type"], set()).add(event["actor"])
    assert actors == DECISIONS, "each event names its person, not a generic operator"
    [vote] = next(c for c in snapshot["committees"] if c["id"] == committee["id"])["positions"]
    assert (vote["member"], vote["given_by"]) == ("human", "operator:bob")

    assert "operator:alice" in server.mcos("approvals", "ls").stdout
    assert "human (operator:alice): approve" in server.mcos("approvals", "show", approval_id).stdout
    assert "by operator:bob" in server.mcos("incidents", "show", incident_id).stdout
    assert (
        "human (operator:bob): for"
        in server.mcos("committees", "show", str(committee["id"])).stdout
    )
    tail = server.mcos(
        "events", "tail", "--after", "0", "--types", "budget.changed", "--count", "1"
    )
    assert "operator:alice" in tail.stdout


DECISIONS = {
    # alice's approval, and bob's confirmation of the incident's approval
    "approval.decided": {"operator:alice", "operator:bob"},
    "budget.changed": {"operator:alice"},
    "incident.confirmed": {"operator:bob"},
    "task.moved": {"operator:bob"},
    "task.commented": {"operator:bob"},
    "committee.position_given": {"operator:bob"},
}


def test_init_makes_its_first_person_an_owner(tmp_path: Path) -> None:
    database_url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    env = mcos_env(tmp_path) | {"MCOS_DATABASE_URL": database_url}
    refused = run_mcos("init", str(tmp_path / "f"), "--operator", "Alice B", env=env, check=False)
    assert refused.returncode != 0 and "(field: --operator)" in refused.stderr
    said = run_mcos("init", str(tmp_path / "fleet"), "--operator", "alice", env=env).stdout
    assert "Operator token of alice (owner" in said
    db = Database(database_url)
    with db.reading() as conn:
        people = conn.execute(select(tables.operators.c.name, tables.operators.c.role)).all()
        labels = conn.execute(select(tables.tokens.c.label)).scalars().all()
    db.dispose()
    assert ([tuple(p) for p in people], labels) == ([("alice", "owner")], ["alice"])
