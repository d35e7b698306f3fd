"""The escalation table's "human": any owner or approver, or the one person a rule names
(``human = "alice"``); never a viewer. A bad ``human`` fails at load, with the key and the fix."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from tests.fixtures.server import ControlPlane, Server, error_of, init_here, mcos_env

P0 = '[escalation.P0]\nconfirm_by = ["orchestrator", "human"]\nreach = "fleet"\n'
P0_ALICE = P0 + 'human = "alice"\n'


@pytest.fixture
def alice_confirms_p0(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """The seed fleet, whose P0 rule names alice as its human (before she is an operator)."""
    env = mcos_env(tmp_path) | {"MCOS_DATABASE_URL": database_url}
    fleet_dir = tmp_path / "fleet"
    init_here(fleet_dir, env)
    fleet_file = fleet_dir / "fleet.toml"
    text = fleet_file.read_text()
    assert text.count(P0) == 1, "the template's P0 rule changed"
    fleet_file.write_text(text.replace(P0, P0_ALICE))
    server = Server(fleet_dir, database_url, env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _may_decide(server: Server, token: str, incident_id: int) -> bool:
    with server.client(token) as person:
        snapshot = person.get("/api/v1/dashboard/snapshot").json()
    [incident] = [i for i in snapshot["incidents"] if i["id"] == incident_id]
    decides: bool = incident["operator_may_decide"]
    return decides


def test_only_the_named_human_confirms_and_stays_able_to(alice_confirms_p0: Server) -> None:
    server = alice_confirms_p0
    said = server.log_path.read_text()
    assert "[escalation.P0] human = 'alice': no operator of that name" in said, "said at start"
    with server.client() as owner:
        tokens = {
            name: owner.post("/api/v1/operators", json={"name": name, "role": role}).json()
            for name, role in (("alice", "approver"), ("bob", "approver"))
        }
    with server.agent("flow") as flow:
        incident = flow.post("/api/v1/incidents", json={"severity": "P0", "title": "db down"})
    incident_id = incident.json()["id"]
    alice, bob = tokens["alice"]["token"], tokens["bob"]["token"]
    assert _may_decide(server, alice, incident_id) and not _may_decide(server, bob, incident_id)

    confirm = f"/api/v1/incidents/{incident_id}/confirm"
    for token in (bob, server.operator_token):  # another approver; even an owner
        with server.client(token) as someone:
            refused = someone.post(confirm, json={})
        assert refused.status_code == 403, refused.text
        assert "names 'alice'" in error_of(refused)["message"]
    with server.client(alice) as named:
        assert named.post(confirm, json={}).status_code == 200
    with server.agent("jarvis") as jarvis:
        done = jarvis.post(confirm, json={})
    assert done.status_code == 200 and done.json()["status"] == "confirmed", done.text

    with server.client() as owner:
        for method, body in (("PATCH", {"role": "viewer"}), ("DELETE", None)):
            kept = owner.request(method, "/api/v1/operators/alice", json=body)
            assert kept.status_code == 409 and error_of(kept)["code"] == "named_human", kept.text
        assert owner.request("DELETE", "/api/v1/operators/bob").status_code == 200


def test_any_owner_or_approver_is_the_human_but_never_a_viewer(api: ControlPlane) -> None:
    server = api  # HTTP only: the application in this process answers as `mcos serve` does
    with server.client() as owner:
        vic = owner.post("/api/v1/operators", json={"name": "vic", "role": "viewer"}).json()
        bob = owner.post("/api/v1/operators", json={"name": "bob", "role": "approver"}).json()
    with server.agent("flow") as flow:
        asked = flow.post("/api/v1/approvals", json={"capability": "exec", "reason": "ci"})
    path = f"/api/v1/approvals/{asked.json()['id']}/approve"
    assert not _may_decide_approval(server, vic["token"], asked.json()["id"])
    with server.client(vic["token"]) as viewer:
        refused = viewer.post(path, json={})
    assert refused.status_code == 403 and error_of(refused)["code"] == "read_only_operator"
    with server.client(bob["token"]) as approver:
        decided = approver.post(path, json={})
    assert decided.status_code == 200 and decided.json()["status"] == "applied", decided.text
    assert [d["decider"] for d in decided.json()["decisions"]] == ["operator:bob"]


def _may_decide_approval(server: ControlPlane, token: str, approval_id: int) -> bool:
    with server.client(token) as person:
        snapshot = person.get("/api/v1/dashboard/snapshot").json()
    [approval] = [a for a in snapshot["approvals"] if a["id"] == approval_id]
    decides: bool = approval["operator_may_decide"]
    return decides


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            '[escalation.P1]\nconfirm_by = ["orchestrator"]\nreach = "fleet"\nhuman = "alice"\n',
            "confirm_by has no 'human'",
        ),
        (P0 + 'human = "Alice Smith"\n', "String should match pattern"),
    ],
)
def test_a_bad_named_human_fails_at_load(rule: str, message: str) -> None:
    template = template_text()
    original = rule.split("human = ")[0] if "P1" in rule else P0
    assert template.count(original) == 1
    fleet, problems = check_fleet_text(template.replace(original, rule))
    assert fleet is None
    [problem] = problems
    assert problem.key.startswith("escalation.P"), problem
    assert message in problem.message, problem


def test_a_reloaded_fleet_file_naming_an_unknown_human_is_said(server: Server) -> None:
    path = server.fleet_dir / "fleet.toml"
    path.write_text(path.read_text().replace(P0, P0 + 'human = "carol"\n'))
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)
    said = "[escalation.P0] human = 'carol': no operator of that name"
    deadline = time.monotonic() + 20
    while said not in server.log_path.read_text():
        assert time.monotonic() < deadline, "the reload says the named human is unknown"
        time.sleep(0.1)
    with server.client() as owner:
        fleet = owner.get("/api/v1/fleet").json()["fleet"]
    assert fleet["escalation"]["P0"]["human"] == "carol", "the file was still taken"
