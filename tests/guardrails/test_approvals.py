"""An action that needs approval: frozen, decided by the right party, carried out exactly once."""

from __future__ import annotations

from tests.fixtures.server import ControlPlane, Server, error_of

PAYMENT = {
    "kind": "payment.send",
    "amount_usd": 1_250.0,
    "recipient": "supplier@fibre.za",
    "reason": "fibre splice kits",
}


def test_a_payment_waits_for_a_human_and_is_carried_out_once(api: ControlPlane) -> None:
    with api.agent("vega") as vega, api.agent("jarvis") as jarvis, api.client() as op:
        asked = vega.post("/api/v1/actions", json=PAYMENT)
        assert asked.status_code == 202, asked.text
        answer = asked.json()
        assert answer["decision"] == "needs_approval" and answer["approvers"] == ["human"]
        approval_id = answer["approval_id"]
        shown = op.get(f"/api/v1/approvals/{approval_id}").json()
        assert shown["subject"]["amount_usd"] == 1_250.0 and shown["status"] == "pending"

        early = vega.post("/api/v1/actions", json=PAYMENT | {"approval_id": approval_id})
        assert early.status_code == 409 and "pending" in error_of(early)["message"]
        # The orchestrator is an agent, not the human this approval needs.
        refused = jarvis.post(f"/api/v1/approvals/{approval_id}/approve", json={})
        assert refused.status_code == 403
        approved = op.post(f"/api/v1/approvals/{approval_id}/approve", json={"comment": "ok"})
        assert approved.json()["status"] == "approved"

        changed = vega.post(
            "/api/v1/actions", json=PAYMENT | {"amount_usd": 12_500.0, "approval_id": approval_id}
        )
        assert changed.status_code == 403 and "differs" in error_of(changed)["message"]
        done = vega.post("/api/v1/actions", json=PAYMENT | {"approval_id": approval_id})
        assert done.status_code == 200 and done.json()["decision"] == "allow"
        again = vega.post("/api/v1/actions", json=PAYMENT | {"approval_id": approval_id})
        assert again.status_code == 409 and "applied" in error_of(again)["message"]
        assert op.get(f"/api/v1/approvals/{approval_id}").json()["status"] == "applied"


def test_one_denial_ends_an_approval(api: ControlPlane) -> None:
    with api.agent("vega") as vega, api.client() as op:
        approval_id = vega.post("/api/v1/actions", json=PAYMENT).json()["approval_id"]
        denied = op.post(
            f"/api/v1/approvals/{approval_id}/deny", json={"comment": "not this month"}
        )
        assert denied.json()["status"] == "denied"
        assert denied.json()["decisions"][0]["comment"] == "not this month"
        use = vega.post("/api/v1/actions", json=PAYMENT | {"approval_id": approval_id})
        assert use.status_code == 409 and "denied" in error_of(use)["message"]
        assert op.get("/api/v1/approvals/999").status_code == 404


def test_an_operator_restores_a_capability_from_the_cli(server: Server) -> None:
    asked = server.mcos(
        "approvals", "restore", "flow", "exec", "--minutes", "30", "--reason", "rebuild staging"
    )
    approval_id = asked.stdout.split()[0].lstrip("#")
    assert "pending: restore exec to flow for 30 min" in asked.stdout
    assert "applied" in server.mcos("approvals", "approve", approval_id).stdout
    with server.agent("flow") as flow:
        allowed = flow.post("/api/v1/actions", json={"kind": "shell.exec", "command": "make"})
        assert allowed.status_code == 200
    bad = server.mcos("approvals", "restore", "flow", "teleport", "--reason", "x", check=False)
    assert bad.returncode == 1 and "unknown capability 'teleport'" in bad.stderr
