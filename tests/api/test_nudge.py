"""Nudging an agent: operators only, a known agent, and the event a runner wakes it on."""

from __future__ import annotations

from tests.fixtures.server import Server, error_of


def test_operators_nudge_known_agents_and_the_log_says_why(server: Server) -> None:
    with server.client() as operator, server.agent("donna") as donna:
        nudged = operator.post("/api/v1/agents/flow/nudge", json={"reason": "deploy window"})
        assert nudged.status_code == 200, nudged.text
        event = operator.get(
            "/api/v1/events", params={"types": "agent.nudged", "after": nudged.json()["seq"] - 1}
        ).json()["events"]
        assert [(e["subject"], e["data"]["reason"]) for e in event] == [
            ("agent:flow", "deploy window")
        ]

        by_agent = donna.post("/api/v1/agents/flow/nudge", json={})
        assert by_agent.status_code == 403 and error_of(by_agent)["code"] == "forbidden"
        unknown = operator.post("/api/v1/agents/flo/nudge", json={})
        assert unknown.status_code == 404 and error_of(unknown)["field"] == "name"
        typo = operator.post("/api/v1/agents/flow/nudge", json={"reson": "x"})
        assert typo.status_code == 422 and error_of(typo)["field"] == "reson"

    result = server.mcos("agents", "nudge", "elon", "--reason", "3 a.m. page")
    assert result.stdout.startswith("nudged elon (event ")
    missing = server.mcos("agents", "nudge", "nobody", check=False)
    assert missing.returncode == 1 and "no agent named 'nobody'" in missing.stderr
