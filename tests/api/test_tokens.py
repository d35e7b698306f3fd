"""Tokens have a scope and an expiry, and are taken back at once: `mcos tokens` and its API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from mcos.services.tokens import resolve_token
from mcos.storage import tables
from mcos.storage.database import Database
from tests.fixtures.server import ControlPlane, Server, error_of


def _issue(server: Server, *args: str) -> dict[str, object]:
    issued = server.mcos("tokens", "issue", *args, "--json")
    result: dict[str, object] = json.loads(issued.stdout)
    return result


def _as(server: Server, token: str, agent: str | None = None) -> httpx.Client:
    headers = {"X-MCOS-Agent": agent} if agent else {}
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=30,
    )


def test_a_runner_token_acts_only_as_its_machines_agents_and_issues_nothing(
    server: Server,
) -> None:
    runner = _issue(server, "--runner", "velo")
    assert (runner["kind"], runner["scope"], runner["label"]) == ("runner", "machine:velo", "velo")
    expires = datetime.fromisoformat(str(runner["expires_at"]))
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    token = str(runner["token"])
    assert token.startswith("mcos_r_")

    with _as(server, token, "flow") as flow:
        beat = flow.post("/api/v1/agents/flow/heartbeat", json={"note": "via the velo runner"})
        assert beat.status_code == 200, beat.text
        current = flow.get("/api/v1/tokens/current").json()
        assert (current["kind"], current["acting_as"]) == ("runner", "agent:flow")
        # Acting as flow, it is flow: not another agent, not an operator.
        other = flow.post("/api/v1/agents/elon/heartbeat", json={})
        assert other.status_code == 403 and "flow" in error_of(other)["message"]
        issue = flow.post("/api/v1/tokens", json={"kind": "runner", "machine": "velo"})
        assert issue.status_code == 403 and "operator" in error_of(issue)["message"]
        agent_token = flow.post("/api/v1/agents/flow/tokens", json={})
        assert agent_token.status_code == 403
    with _as(server, token, "donna") as donna:  # Donna runs on the Mac Mini
        refused = donna.post("/api/v1/agents/donna/heartbeat", json={})
        assert refused.status_code == 403
        assert error_of(refused)["field"] == "X-MCOS-Agent"
        assert "mac-mini" in error_of(refused)["message"]
    with _as(server, token, "nobody") as nobody:
        assert nobody.get("/api/v1/agents").status_code == 403
    with _as(server, token) as bare:
        # Without an agent it only follows its machine's share of the log.
        listed = bare.get("/api/v1/agents")
        assert listed.status_code == 403 and error_of(listed)["field"] == "X-MCOS-Agent"
        assert bare.post("/api/v1/tokens", json={"kind": "operator"}).status_code == 403
        log = bare.get("/api/v1/events", params={"types": "agent.heartbeat"})
        assert log.status_code == 200
        assert [e["data"]["agent"] for e in log.json()["events"]] == ["flow"]
        with bare.stream("GET", "/api/v1/stream", params={"after": 0}) as stream:
            assert stream.status_code == 200
    with server.client() as operator:
        # An operator's or an agent's token names no agent in the header.
        named = operator.get("/api/v1/agents", headers={"X-MCOS-Agent": "flow"})
        assert named.status_code == 422 and error_of(named)["field"] == "X-MCOS-Agent"
        donna_token = server.agent_token("donna")
    with _as(server, donna_token, "donna") as donna:  # its own name is no news
        assert donna.get("/api/v1/agents/donna").status_code == 200

    listed = server.mcos("tokens", "ls").stdout
    assert re.search(r"#\d+\s+runner\s+machine:velo\s+velo\s+mcos_r_", listed), listed
    assert token not in listed and server.operator_token not in listed


def test_a_revoked_token_fails_on_its_next_request(server: Server) -> None:
    token = server.agent_token("donna")
    with _as(server, token) as donna:
        for _ in range(3):  # resolved and cached
            assert donna.get("/api/v1/agents/donna").status_code == 200
        mine = donna.get("/api/v1/tokens/current").json()
        revoked = server.mcos("tokens", "revoke", str(mine["id"]))
        assert f"revoked #{mine['id']} (agent, agent:donna)" in revoked.stdout
        after = donna.get("/api/v1/agents/donna")
        assert after.status_code == 401
        assert error_of(after) == {
            "code": "unauthorized",
            "message": "unknown, expired or revoked token",
            "field": "Authorization",
        }
    again = server.mcos("tokens", "revoke", str(mine["id"]), check=False)
    assert again.returncode == 1 and "already revoked" in again.stderr
    everything = json.loads(server.mcos("tokens", "ls", "--all", "--json").stdout)
    gone = next(t for t in everything if t["id"] == mine["id"])
    assert (gone["status"], gone["revoked_by"]) == ("revoked", "operator:operator")
    live = json.loads(server.mcos("tokens", "ls", "--json").stdout)
    assert mine["id"] not in [t["id"] for t in live]


def test_rotation_replaces_a_token_at_once_or_after_a_grace(server: Server) -> None:
    first = _issue(server, "--runner", "mac-mini", "--label", "mac mini runner")
    rotated = json.loads(server.mcos("tokens", "rotate", str(first["prefix"]), "--json").stdout)
    assert (rotated["scope"], rotated["label"]) == ("machine:mac-mini", "mac mini runner")
    with _as(server, str(first["token"]), "donna") as old:
        assert old.get("/api/v1/agents").status_code == 401
    with _as(server, rotated["token"], "donna") as new:
        assert new.get("/api/v1/agents").status_code == 200

    later = json.loads(
        server.mcos(
            "tokens", "rotate", str(rotated["id"]), "--grace-minutes", "30", "--json"
        ).stdout
    )
    with (
        _as(server, rotated["token"], "donna") as old,
        _as(server, later["token"], "donna") as new,
    ):
        assert old.get("/api/v1/agents").status_code == 200  # still, for the grace
        assert new.get("/api/v1/agents").status_code == 200
        ends = datetime.fromisoformat(old.get("/api/v1/tokens/current").json()["expires_at"])
    assert timedelta(minutes=29) < ends - datetime.now(UTC) <= timedelta(minutes=30)
    with server.client() as operator:
        events = operator.get("/api/v1/events", params={"types": "token.*"}).json()["events"]
    rotations = [e["data"] for e in events if e["type"] == "token.rotated"]
    assert [(r["id"], r["new_id"]) for r in rotations] == [
        (first["id"], rotated["id"]),
        (rotated["id"], later["id"]),
    ]


def test_the_last_operator_token_cannot_be_revoked_and_operators_can_be_named(
    api: ControlPlane,
) -> None:
    with api.client() as operator:
        mine = operator.get("/api/v1/tokens/current").json()
        last = operator.post(f"/api/v1/tokens/{mine['id']}/revoke", json={})
        assert last.status_code == 409 and error_of(last)["code"] == "last_operator_token"
        added = operator.post("/api/v1/operators", json={"name": "alice", "role": "owner"})
        assert added.status_code == 201, added.text
        alice = operator.post(
            "/api/v1/tokens", json={"kind": "operator", "label": "alice", "expires_in_days": 30}
        )
        assert alice.status_code == 201, alice.text
        assert alice.json()["scope"] == "operator" and alice.json()["expires_at"] is not None
        never = operator.post("/api/v1/tokens", json={"kind": "runner", "machine": "velo",
                                                       "expires_in_days": None})  # fmt: skip
        assert never.status_code == 201 and never.json()["expires_at"] is None
        for bad, field in (
            ({"kind": "runner", "machine": "mac-studio"}, "machine"),
            ({"kind": "runner"}, "machine"),
            ({"kind": "agent", "agent": "nobody"}, "agent"),
            ({"kind": "operator", "machine": "velo"}, "machine"),
            ({"kind": "operator", "label": "nobody"}, "label"),
            ({"kind": "operator", "expires_in_days": 0}, "expires_in_days"),
            ({"kind": "root"}, "kind"),
        ):
            refused = operator.post("/api/v1/tokens", json=bad)
            assert refused.status_code in (404, 422), (bad, refused.text)
            assert error_of(refused)["field"] == field, (bad, refused.text)
    with api.client(alice.json()["token"]) as alice_client:
        # Alice may now revoke the first operator token: it is no longer the last.
        revoked = alice_client.post(f"/api/v1/tokens/{mine['id']}/revoke", json={})
        assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "operator:alice"
    with api.client() as first:
        assert first.get("/api/v1/agents").status_code == 401


def test_expired_tokens_and_tokens_of_agents_gone_from_the_fleet_stop_working(
    server: Server,
) -> None:
    vault = server.agent_token("vault")
    donna = server.agent_token("donna")
    with _as(server, donna) as client:
        donna_id = client.get("/api/v1/tokens/current").json()["id"]
    server.stop()
    # Donna's token ran out; Vault left the fleet.
    db = Database(server.database_url)
    db.migrate()
    with db.write_engine.begin() as conn:
        conn.execute(
            update(tables.tokens)
            .where(tables.tokens.c.id == donna_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with db.reading() as conn:
        assert resolve_token(conn, donna, datetime.now(UTC)) is None
    db.dispose()
    fleet_file = server.fleet_dir / "fleet.toml"
    text = fleet_file.read_text()
    block = re.search(r'\[\[agents\]\]\nname = "vault".*?(?=\n# ---- Specialists)', text, re.S)
    assert block is not None
    fleet_file.write_text(text.replace(block.group(0), "").replace('"vault", ', ""))
    server.start()
    for token in (vault, donna):
        with _as(server, token) as client:
            refused = client.get("/api/v1/agents")
            assert refused.status_code == 401, refused.text
    everything = json.loads(server.mcos("tokens", "ls", "--all", "--json").stdout)
    assert next(t for t in everything if t["id"] == donna_id)["status"] == "expired"
