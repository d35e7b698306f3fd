"""Committees: a question put to named agents and the operator, decided by quorum and rule."""

from __future__ import annotations

import json

from tests.fixtures.server import ControlPlane, Server, error_of

PAYMENT = {
    "kind": "payment.send",
    "amount_usd": 40_000.0,
    "recipient": "tower-crew@fibre.za",
    "reason": "second tower crew for Q3",
}


def test_a_committee_hears_its_members_decides_and_keeps_minutes(server: Server) -> None:
    with (
        server.agent("jarvis") as jarvis,
        server.agent("donna") as donna,
        server.agent("apex") as apex,
        server.agent("vega") as vega,
        server.client() as op,
    ):
        opened = jarvis.post(
            "/api/v1/committees",
            json={
                "title": "Hire a second tower crew",
                "question": "Do we hire a second tower crew for Q3?",
                "members": ["jarvis", "donna", "apex"],
                "human": True,
                "quorum": 3,
                "rule": "majority",
            },
        )
        assert opened.status_code == 201, opened.text
        committee = opened.json()
        cid = committee["id"]
        assert committee["status"] == "open" and committee["opened_by"] == "agent:jarvis"
        assert committee["voters"] == ["jarvis", "donna", "apex", "human"]
        assert committee["waiting_for"] == committee["voters"]

        # Each member but the opener is told, as a directive naming the tool to answer with.
        sent = op.get("/api/v1/messages", params={"kind": "directive"}).json()["messages"]
        told = {m["to"]: m["body"] for m in sent if f"Committee #{cid}" in m["body"]}
        assert set(told) == {"donna", "apex"}
        assert "give_position" in told["donna"] and "second tower crew" in told["donna"]

        # Agents read the committees they sit on; others do not see them.
        assert [c["id"] for c in donna.get("/api/v1/committees").json()["committees"]] == [cid]
        assert vega.get("/api/v1/committees").json()["committees"] == []
        hidden = vega.get(f"/api/v1/committees/{cid}")
        assert hidden.status_code == 404 and error_of(hidden)["field"] == "committee_id"

        first = donna.post(
            f"/api/v1/committees/{cid}/positions",
            json={"position": "for", "reasons": "Backlog of 40 sites;\ncrew one is booked."},
        )
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "open"
        assert first.json()["waiting_for"] == ["jarvis", "apex", "human"]
        again = donna.post(
            f"/api/v1/committees/{cid}/positions", json={"position": "against", "reasons": "x"}
        )
        assert again.status_code == 409 and error_of(again)["field"] == "member"
        apex.post(
            f"/api/v1/committees/{cid}/positions",
            json={"position": "against", "reasons": "Contracts not signed yet."},
        ).raise_for_status()
        # Two for, one against of four: the operator's vote (from the CLI) decides it.
        jarvis.post(
            f"/api/v1/committees/{cid}/positions",
            json={"position": "for", "reasons": "Cash allows it."},
        ).raise_for_status()
        voted = server.mcos(
            "committees", "vote", str(cid), "for", "--reasons", "Agreed, within budget."
        )
        assert "decided (approved)" in voted.stdout

        decided = op.get(f"/api/v1/committees/{cid}").json()
        assert (decided["status"], decided["outcome"]) == ("decided", "approved")
        assert decided["explanation"] == "3 of 4 for, 1 against; quorum 3 met; majority: approved"
        assert decided["tally"] == {
            "for": 3,
            "against": 1,
            "veto": 0,
            "abstain": 0,
            "given": 4,
            "voters": 4,
        }
        minutes = decided["minutes"]
        assert minutes.startswith(f"# Committee #{cid}: Hire a second tower crew\n")
        assert "Do we hire a second tower crew for Q3?" in minutes
        assert "- **donna**: for. Backlog of 40 sites;\n  crew one is booked." in minutes
        assert "- **apex**: against. Contracts not signed yet." in minutes
        assert "- **human** (operator:operator): for. Agreed, within budget." in minutes
        assert "3 for, 1 against, 0 veto, 0 abstaining; 4 of 4 positions given." in minutes
        assert "**Approved**: 3 of 4 for, 1 against; quorum 3 met; majority: approved." in minutes
        shown = server.mcos("committees", "show", str(cid))
        assert shown.stdout == minutes

        late = apex.post(
            f"/api/v1/committees/{cid}/positions", json={"position": "for", "reasons": "late"}
        )
        assert late.status_code == 409
        assert error_of(late)["field"] == "committee_id"
        assert error_of(late)["code"] == "committee_closed"

        listed = json.loads(server.mcos("committees", "ls", "--json").stdout)
        assert [(c["id"], c["status"]) for c in listed] == [(cid, "decided")]
        assert op.get("/api/v1/committees", params={"status": "open"}).json() == {"committees": []}

        log = op.get("/api/v1/events", params={"types": "committee.*"}).json()["events"]
        assert [e["type"] for e in log] == [
            "committee.opened",
            *["committee.position_given"] * 4,
            "committee.decided",
        ]
        assert log[0]["data"]["members"] == ["jarvis", "donna", "apex"]
        assert log[-1]["data"]["outcome"] == "approved"
        assert log[-1]["actor"].startswith("operator:")
        brief = op.get("/api/v1/briefing").json()
        assert [(c["id"], c["outcome"], c["tally"]["for"]) for c in brief["committees"]] == [
            (cid, "approved", 3)
        ]
        assert (
            f"## Committee decisions (1)\n- committee #{cid} Hire a second tower crew: approved "
            "(3 for, 1 against, 0 veto, 0 abstaining of 4)\n"
        ) in brief["data_markdown"]
        # Clients cannot forge the namespace.
        forged = vega.post("/api/v1/events", json={"type": "committee.decided"})
        assert forged.status_code == 422


def test_a_committee_gates_an_approval_until_it_decides(server: Server) -> None:
    with (
        server.agent("vega") as vega,
        server.agent("donna") as donna,
        server.agent("apex") as apex,
        server.client() as op,
    ):
        # Approved by the human, the payment still waits for the committee, which approves it.
        approval_id = vega.post("/api/v1/actions", json=PAYMENT).json()["approval_id"]
        # Only an operator may put an approval to a committee: the orchestrator may not settle,
        # through a committee of its choosing, what it could not decide itself.
        with server.agent("jarvis") as jarvis:
            own = jarvis.post(
                "/api/v1/committees",
                json={
                    "title": "t",
                    "question": "q",
                    "members": ["jarvis"],
                    "quorum": 1,
                    "approval_id": approval_id,
                },
            )
        assert own.status_code == 403 and error_of(own)["field"] == "approval_id", own.text
        gate = op.post(
            "/api/v1/committees",
            json={
                "title": "Tower crew payment",
                "question": "Pay the second tower crew's deposit?",
                "members": ["donna", "apex"],
                "rule": "unanimity",
                "approval_id": approval_id,
            },
        ).json()
        assert gate["quorum"] == 2
        party = f"committee:{gate['id']}"
        approval = op.get(f"/api/v1/approvals/{approval_id}").json()
        assert approval["required"] == ["human", party]
        human = op.post(f"/api/v1/approvals/{approval_id}/approve", json={"comment": "fine"})
        assert human.json()["status"] == "pending"
        assert human.json()["waiting_for"] == [party]
        # No one but the committee decides its part.
        stand_in = op.post(f"/api/v1/approvals/{approval_id}/approve", json={})
        assert stand_in.status_code == 409
        early = vega.post("/api/v1/actions", json=PAYMENT | {"approval_id": approval_id})
        assert early.status_code == 409
        for agent in (donna, apex):
            agent.post(
                f"/api/v1/committees/{gate['id']}/positions",
                json={"position": "for", "reasons": "Deposit is within plan."},
            ).raise_for_status()
        approval = op.get(f"/api/v1/approvals/{approval_id}").json()
        assert approval["status"] == "approved"
        assert approval["decisions"][-1]["party"] == party
        assert approval["decisions"][-1]["decider"] == party
        assert approval["decisions"][-1]["decision"] == "approve"
        done = vega.post("/api/v1/actions", json=PAYMENT | {"approval_id": approval_id})
        assert done.status_code == 200 and done.json()["decision"] == "allow"

        # A rejecting committee denies its approval, whatever the human said.
        denied_id = vega.post("/api/v1/actions", json=PAYMENT).json()["approval_id"]
        opened = server.mcos(
            "committees",
            "open",
            "--title",
            "Second deposit",
            "--question",
            "Pay it twice?",
            "--member",
            "donna",
            "--member",
            "apex",
            "--rule",
            "veto",
            "--quorum",
            "1",
            "--approval",
            str(denied_id),
        )
        veto_id = int(opened.stdout.split()[0].lstrip("#"))
        assert op.get(f"/api/v1/approvals/{denied_id}").json()["status"] == "pending"
        apex.post(
            f"/api/v1/committees/{veto_id}/positions",
            json={"position": "veto", "reasons": "Already paid once."},
        ).raise_for_status()
        assert op.get(f"/api/v1/committees/{veto_id}").json()["outcome"] == "rejected"
        denied = op.get(f"/api/v1/approvals/{denied_id}").json()
        assert denied["status"] == "denied"
        assert denied["decisions"][-1]["comment"] == (
            f"committee #{veto_id}: 0 of 2 for, 0 against, 1 veto; quorum 1 met; veto: rejected"
        )
        # A decided approval cannot be gated any more.
        late = op.post(
            "/api/v1/committees",
            json={"title": "t", "question": "q", "members": ["donna"], "approval_id": denied_id},
        )
        assert late.status_code == 409 and error_of(late)["field"] == "approval_id"


def test_bad_committee_inputs_answer_the_one_error_shape(api: ControlPlane) -> None:
    good = {"title": "Pricing", "question": "Raise prices 5%?", "members": ["donna", "apex"]}
    with (
        api.agent("donna") as donna,
        api.agent("apex") as apex,
        api.agent("vega") as vega,
        api.client() as op,
    ):
        cases = [
            (good | {"members": ["donna", "nobody"]}, 422, "members[1]"),
            (good | {"members": ["donna", "donna"]}, 422, "members[1]"),
            (good | {"members": []}, 422, "members"),
            (good | {"quorum": 3}, 422, "quorum"),
            (good | {"quorum": 0}, 422, "quorum"),
            (good | {"rule": "plurality"}, 422, "rule"),
            (good | {"quroum": 2}, 422, "quroum"),
            (good | {"approval_id": 999}, 422, "approval_id"),
        ]
        for body, status, field in cases:
            answer = op.post("/api/v1/committees", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert error_of(answer)["field"] == field, (body, answer.text)
        unknown = op.post("/api/v1/committees", json=good | {"members": ["donna", "ghost"]})
        assert "no agent named 'ghost'" in error_of(unknown)["message"]
        # Only operators and the orchestrator open committees.
        refused = vega.post("/api/v1/committees", json=good)
        assert refused.status_code == 403 and "orchestrator" in error_of(refused)["message"]

        cid = op.post("/api/v1/committees", json=good | {"human": True}).json()["id"]
        snap = op.get("/api/v1/dashboard/snapshot").json()
        assert [(c["id"], c["waiting_for"]) for c in snap["committees"]] == [
            (cid, ["donna", "apex", "human"])
        ]
        url = f"/api/v1/committees/{cid}/positions"
        positions = [
            (vega, {"position": "for", "reasons": "r"}, 403, "member"),
            (donna, {"position": "for", "reasons": "r", "member": "apex"}, 403, "member"),
            (op, {"position": "for", "reasons": "r", "member": "donna"}, 403, "member"),
            (donna, {"position": "for"}, 422, "reasons"),
            (donna, {"position": "for", "reasons": "   "}, 422, "reasons"),
            (donna, {"position": "veto", "reasons": "r"}, 422, "position"),
            (donna, {"position": "maybe", "reasons": "r"}, 422, "position"),
            (donna, {"position": "for", "reasons": "r", "reason": "r"}, 422, "reason"),
        ]
        for client, body, status, field in positions:
            answer = client.post(url, json=body)
            assert answer.status_code == status, (body, answer.text)
            assert error_of(answer)["field"] == field, (body, answer.text)
        missing = op.post(
            "/api/v1/committees/999/positions", json={"position": "for", "reasons": "r"}
        )
        assert missing.status_code == 404 and error_of(missing)["field"] == "committee_id"
        # The impersonation attempt is on the record.
        log = op.get("/api/v1/events", params={"types": "committee.position_given"}).json()
        assert [e["data"]["refused"] for e in log["events"]] == [
            "agent 'donna''s token cannot give a position as 'apex'"
        ]
        # Nothing was recorded by the refusals: everyone still has to vote.
        waiting = apex.get(f"/api/v1/committees/{cid}").json()["waiting_for"]
        assert waiting == ["donna", "apex", "human"]
