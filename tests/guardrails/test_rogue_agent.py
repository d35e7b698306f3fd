"""The seed's first failure: Flow ran production builds. Exec is revoked at the config level."""

from __future__ import annotations

import json
import time

import httpx

from tests.fixtures.server import Server, error_of

BUILD = {"kind": "shell.exec", "command": "npm run build", "paths": ["/srv/fibreflow/staging"]}


def _events(operator: httpx.Client, types: str) -> list[dict[str, object]]:
    events: list[dict[str, object]] = operator.get(
        "/api/v1/events", params={"types": types, "limit": 10_000}
    ).json()["events"]
    return events


def test_flow_cannot_exec_until_an_operator_restores_it_for_a_while(server: Server) -> None:
    with server.agent("flow") as flow, server.agent("elon") as elon, server.client() as operator:
        # However it words the command, exec is not Flow's to use.
        for command in ("npm run build", "echo harmless && next build"):
            refused = flow.post("/api/v1/actions", json=BUILD | {"command": command})
            assert refused.status_code == 403, refused.text
            error = error_of(refused)
            assert error["code"] == "policy_denied" and "'exec'" in error["message"]
        # Not even by claiming to be someone else, or by inventing a kind of action.
        assert flow.post("/api/v1/actions", json=BUILD | {"agent": "elon"}).status_code == 403
        unknown = flow.post("/api/v1/actions", json={"kind": "shell.sudo", "command": "x"})
        assert unknown.status_code == 403 and "unknown action kind" in error_of(unknown)["message"]

        # The runtime's request_capability tool sends a client id, as every report does: a
        # request sent again after a lost answer is recorded once.
        ask = {"capability": "exec", "minutes": 0.05, "reason": "rebuild staging after the fix"}
        asked = flow.post("/api/v1/approvals", json=ask | {"id": "flow-ask-1"})
        assert asked.status_code == 201, asked.text
        again = flow.post("/api/v1/approvals", json=ask | {"id": "flow-ask-1"})
        assert again.status_code == 409 and error_of(again)["code"] == "duplicate_id"
        approval = asked.json()
        assert approval["status"] == "pending" and approval["waiting_for"] == ["human"]
        approval_id = approval["id"]

        # Flow cannot approve its own request, and an agent is not an operator.
        own = flow.post(f"/api/v1/approvals/{approval_id}/approve", json={})
        assert own.status_code == 403 and "own request" in error_of(own)["message"]
        other = elon.post(f"/api/v1/approvals/{approval_id}/approve", json={})
        assert other.status_code == 403 and "not among the approvers" in error_of(other)["message"]
        assert flow.post("/api/v1/actions", json=BUILD).status_code == 403

        approved = server.mcos("approvals", "approve", str(approval_id), "--comment", "go")
        assert "applied" in approved.stdout
        allowed = flow.post("/api/v1/actions", json=BUILD)
        assert allowed.status_code == 200 and allowed.json()["decision"] == "allow"
        # Restored exec still keeps Flow out of production.
        prod = flow.post("/api/v1/actions", json=BUILD | {"paths": ["/srv/fibreflow/production"]})
        assert prod.status_code == 403 and "protected" in error_of(prod)["message"]

        # The restoration lapses by itself.
        deadline = time.monotonic() + 30
        while flow.post("/api/v1/actions", json=BUILD).status_code == 200:
            assert time.monotonic() < deadline, "the restoration never lapsed"
            time.sleep(0.2)
        replay = operator.post(f"/api/v1/approvals/{approval_id}/approve", json={})
        assert replay.status_code == 409 and "applied" in error_of(replay)["message"]

        decisions = _events(operator, "policy.decided")
        flows = [e["data"] for e in decisions if e["data"]["agent"] == "flow"]  # type: ignore[index]
        outcomes = [d["outcome"] for d in flows]  # type: ignore[index]
        assert outcomes[:5] == ["deny", "deny", "deny", "deny", "deny"]
        assert "allow" in outcomes and outcomes[-1] == "deny"
        assert any("own request" in str(e["data"]) for e in _events(operator, "approval.decided"))
        granted = _events(operator, "grant.created")
        assert [e["data"]["granted"] for e in granted] == ["exec"]  # type: ignore[index]

    shown = server.mcos("approvals", "show", str(approval_id)).stdout
    assert "restore exec to flow" in shown and "human (operator:operator): approve go" in shown
    listed = json.loads(server.mcos("approvals", "ls", "--json").stdout)
    assert [a["status"] for a in listed] == ["applied"]
    tail = server.mcos("events", "tail", "--after", "0", "--types", "policy.*", "--count", "3")
    assert tail.stdout.count("shell.exec") >= 2 and "-> deny" in tail.stdout
