"""The seed's second failure: Sentinel's false P0 went into all eight heartbeats at once."""

from __future__ import annotations

import httpx
import orjson

from tests.fixtures.server import Server, error_of


def _heartbeat(client: httpx.Client, name: str) -> dict[str, object]:
    answer: dict[str, object] = client.post(f"/api/v1/agents/{name}/heartbeat", json={}).json()
    return answer


def _stream_until(
    server: Server, token: str, after: int, marker_type: str
) -> list[dict[str, object]]:
    """Everything an agent's stream carries after ``after``, up to an event of ``marker_type``."""
    headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": str(after)}
    seen: list[dict[str, object]] = []
    with httpx.stream(
        "GET", f"{server.url}/api/v1/stream", headers=headers, timeout=httpx.Timeout(10, read=10)
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                event = orjson.loads(line[5:])
                seen.append(event)
                if event["type"] == marker_type:
                    return seen
    raise AssertionError("the marker never arrived")


def test_sentinels_false_p0_reaches_no_other_agent_until_confirmed(server: Server) -> None:
    donna_token = server.agent_token("donna")
    with (
        server.agent("sentinel") as sentinel,
        server.agent("jarvis") as jarvis,
        server.client(donna_token) as donna,
        server.client() as operator,
    ):
        start = operator.get("/api/v1/health").json()["last_seq"]
        raised = sentinel.post(
            "/api/v1/incidents",
            json={"severity": "P0", "title": "Fleet under attack", "body": "from log analysis"},
        )
        assert raised.status_code == 201, raised.text
        false_alarm = raised.json()
        assert false_alarm["status"] == "unconfirmed"
        approval = operator.get(f"/api/v1/approvals/{false_alarm['approval_id']}").json()
        assert approval["required"] == ["orchestrator", "human"]

        # Nobody else hears of it: not in heartbeats, the incident list, approvals or events.
        quiet = _heartbeat(donna, "donna")
        assert quiet["incidents"] == [] and quiet["confirmations"] == []
        assert donna.get("/api/v1/incidents").json()["incidents"] == []
        assert donna.get("/api/v1/approvals").json()["approvals"] == []
        assert donna.get(f"/api/v1/incidents/{false_alarm['id']}").status_code == 404
        logged = donna.get("/api/v1/events", params={"after": start}).json()["events"]
        assert not [e for e in logged if e["type"].startswith(("incident.", "approval."))]
        # Its confirmers see it in their queue, and only there.
        queue = _heartbeat(jarvis, "jarvis")
        assert [i["id"] for i in queue["confirmations"]] == [false_alarm["id"]]  # type: ignore[index,union-attr]
        assert queue["incidents"] == []
        own = sentinel.post(f"/api/v1/incidents/{false_alarm['id']}/confirm", json={})
        assert own.status_code == 403

        dismissed = operator.post(
            f"/api/v1/incidents/{false_alarm['id']}/dismiss",
            json={"comment": "false positive in log analysis"},
        )
        assert dismissed.json()["status"] == "dismissed"
        assert dismissed.json()["resolved_by"] == "operator:operator"
        assert dismissed.json()["resolution"] == "false positive in log analysis"
        assert _heartbeat(donna, "donna")["incidents"] == []

        # A real P0: the orchestrator and a human must both confirm before anyone hears.
        real = sentinel.post(
            "/api/v1/incidents", json={"severity": "P0", "title": "Velo server breached"}
        ).json()
        assert (
            jarvis.post(f"/api/v1/incidents/{real['id']}/confirm", json={}).json()["status"]
            == "unconfirmed"
        )
        assert _heartbeat(donna, "donna")["incidents"] == []
        confirmed = operator.post(f"/api/v1/incidents/{real['id']}/confirm", json={})
        assert confirmed.json()["status"] == "confirmed"
        reached = _heartbeat(donna, "donna")
        assert [i["title"] for i in reached["incidents"]] == ["Velo server breached"]  # type: ignore[index,union-attr]
        acked = donna.post(
            "/api/v1/agents/donna/heartbeat", json={"ack_incidents_through": real["id"]}
        ).json()
        assert acked["incidents"] == []

        # P3 is logged for its reporter only; P2 needs the security agent.
        p3 = sentinel.post("/api/v1/incidents", json={"severity": "P3", "title": "noisy log"})
        assert p3.json()["status"] == "logged"
        p2 = donna.post("/api/v1/incidents", json={"severity": "P2", "title": "phishing mail"})
        assert p2.json()["status"] == "unconfirmed"
        assert [i["id"] for i in _heartbeat(sentinel, "sentinel")["confirmations"]] == [  # type: ignore[index,union-attr]
            p2.json()["id"]
        ]
        assert (
            sentinel.post(f"/api/v1/incidents/{p2.json()['id']}/confirm", json={}).json()["status"]
            == "confirmed"
        )

    stream = _stream_until(server, donna_token, start, "incident.confirmed")
    titles = [e["data"].get("title") for e in stream if e["type"].startswith("incident.")]  # type: ignore[union-attr]
    assert titles == ["Velo server breached"], "the stream carried only what was confirmed"
    shown = server.mcos("incidents", "show", str(false_alarm["id"])).stdout
    assert "dismissed by operator:operator: false positive in log analysis" in shown
    assert "Fleet under attack" in server.mcos("incidents", "ls").stdout
    assert error_of(operator_get(server, "/api/v1/incidents/999"))["code"] == "not_found"


def operator_get(server: Server, path: str) -> httpx.Response:
    with server.client() as operator:
        return operator.get(path)
