from __future__ import annotations

from typing import Any

from tests.fixtures.server import ControlPlane, error_of


def test_direct_channel_and_fleet_messages_with_their_rules(api: ControlPlane) -> None:
    with (
        api.client() as operator,
        api.agent("jarvis") as jarvis,
        api.agent("sentinel") as sentinel,
    ):
        direct = jarvis.post(
            "/api/v1/messages",
            json={"to": "sentinel", "kind": "directive", "body": "Audit the VPN"},
        )
        assert direct.status_code == 201, direct.text
        assert {k: direct.json()[k] for k in ("sender", "scope", "to", "kind")} == {
            "sender": "agent:jarvis",
            "scope": "agent",
            "to": "sentinel",
            "kind": "directive",
        }
        in_channel = sentinel.post(
            "/api/v1/messages",
            json={"channel": "security", "kind": "report", "body": "VPN audited"},
        )
        assert in_channel.status_code == 201, in_channel.text
        assert (in_channel.json()["scope"], in_channel.json()["channel"]) == (
            "channel",
            "security",
        )
        fleet_wide = jarvis.post("/api/v1/messages", json={"fleet": True, "body": "All hands 9am"})
        assert fleet_wide.status_code == 201, fleet_wide.text
        assert fleet_wide.json()["scope"] == "fleet"

        # sentinel is not in the legal channel, and cannot broadcast.
        outsider = sentinel.post("/api/v1/messages", json={"channel": "legal", "body": "hi"})
        assert outsider.status_code == 403
        assert error_of(outsider)["field"] == "channel"
        assert "legal" in error_of(outsider)["message"]
        broadcast = sentinel.post("/api/v1/messages", json={"fleet": True, "body": "P0!"})
        assert broadcast.status_code == 403
        assert error_of(broadcast)["code"] == "forbidden"
        assert "broadcast" in error_of(broadcast)["message"]

        for audience in (
            {},
            {"to": "donna", "channel": "ops"},
            {"to": "donna", "fleet": True},
            {"channel": "ops", "fleet": True},
        ):
            response = operator.post("/api/v1/messages", json={"body": "x", **audience})
            assert response.status_code == 422, (audience, response.text)
            assert "exactly one" in error_of(response)["message"]
        unknown_agent = operator.post("/api/v1/messages", json={"to": "nobody", "body": "x"})
        assert (unknown_agent.status_code, error_of(unknown_agent)["field"]) == (422, "to")
        unknown_channel = operator.post("/api/v1/messages", json={"channel": "nope", "body": "x"})
        assert (unknown_channel.status_code, error_of(unknown_channel)["field"]) == (422, "channel")

        # A retried send with the same id is refused, not stored twice.
        first = operator.post("/api/v1/messages", json={"id": "m-1", "to": "donna", "body": "x"})
        assert first.status_code == 201, first.text
        retry = operator.post("/api/v1/messages", json={"id": "m-1", "to": "donna", "body": "x"})
        assert retry.status_code == 409
        assert (error_of(retry)["code"], error_of(retry)["field"]) == ("duplicate_id", "id")

        def listed(**params: Any) -> list[str]:
            response = operator.get("/api/v1/messages", params=params)
            assert response.status_code == 200, response.text
            return [m["body"] for m in response.json()["messages"]]

        everything = listed()
        by_sentinel = listed(agent="sentinel")
        security = listed(channel="security")
        directives = listed(kind="directive")
        jarvis_directives = listed(agent="jarvis", kind="directive")
        nothing = listed(agent="donna", kind="report")
    assert everything == ["Audit the VPN", "VPN audited", "All hands 9am", "x"]
    assert by_sentinel == ["Audit the VPN", "VPN audited"]
    assert security == ["VPN audited"]
    assert directives == ["Audit the VPN"]
    assert jarvis_directives == ["Audit the VPN"]
    assert nothing == []
