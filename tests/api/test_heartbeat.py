from __future__ import annotations

from tests.fixtures.server import Server, error_of


def test_heartbeat_sets_liveness_and_gauge(server: Server) -> None:
    with server.agent("donna") as donna:
        answer = donna.post(
            "/api/v1/agents/donna/heartbeat",
            json={"status": "working", "context_tokens": 84_000, "note": "triaging inbox"},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["liveness"] == "working"
    assert body["gauge"]["tokens"] == 84_000
    assert body["gauge"]["window"] == 200_000
    with server.client() as operator:
        agent = operator.get("/api/v1/agents/donna").json()
    assert agent["liveness"] == "working"
    assert agent["gauge"]["fraction"] == 0.42
    assert agent["note"] == "triaging inbox"


def test_agent_token_cannot_act_as_another_agent(server: Server) -> None:
    with server.agent("sentinel") as sentinel:
        response = sentinel.post("/api/v1/agents/jarvis/heartbeat", json={})
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"
