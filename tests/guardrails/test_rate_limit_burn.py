"""The seed's third failure: a "failover" token doubled the burn. One credential per agent."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcos.fleet.loader import template_text
from tests.fixtures.server import error_of, mcos_env, running_server

FLOW_KEY = 'credential = "MCOS_FLOW_ANTHROPIC_KEY"'


@pytest.mark.parametrize(
    ("edit", "key", "says"),
    [
        (
            FLOW_KEY + '\nfailover_credential = "MCOS_FLOW_BACKUP_KEY"',
            "agents[6].failover_credential",
            "doubles the burn",
        ),
        (
            'credential = ["MCOS_FLOW_ANTHROPIC_KEY", "MCOS_FLOW_BACKUP_KEY"]',
            "agents[6].credential",
            "doubles the burn",
        ),
        ('credential = "MCOS_DONNA_ANTHROPIC_KEY"', "agents[6].credential", "share one rate limit"),
    ],
)
def test_a_second_credential_stops_the_control_plane_from_starting(
    tmp_path: Path, edit: str, key: str, says: str
) -> None:
    (tmp_path / "fleet.toml").write_text(template_text().replace(FLOW_KEY, edit))
    result = subprocess.run(
        [sys.executable, "-m", "mcos", "serve", "--fleet", str(tmp_path), "--port", "0"],
        env=mcos_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "fleet.toml:" in result.stderr and key in result.stderr and says in result.stderr
    assert "Uvicorn running" not in result.stderr


def test_a_429_cools_down_exactly_one_agent_until_its_retry_after(
    tmp_path: Path, database_url: str
) -> None:
    with (
        running_server(tmp_path, database_url, {"MCOS_LIVENESS_SWEEP_SECONDS": "0.2"}) as srv,
        srv.agent("donna") as donna,
        srv.agent("jarvis") as jarvis,
        srv.client() as operator,
    ):
        for client, name in ((donna, "donna"), (jarvis, "jarvis")):
            client.post(f"/api/v1/agents/{name}/heartbeat", json={"status": "working"})
        wrong = donna.post(
            "/api/v1/agents/donna/cooldown",
            json={"retry_after_seconds": 2, "credential": "MCOS_DONNA_BACKUP_KEY"},
        )
        assert wrong.status_code == 422 and "one credential" in error_of(wrong)["message"]
        cooled = donna.post(
            "/api/v1/agents/donna/cooldown",
            json={"retry_after_seconds": 2, "credential": "MCOS_DONNA_ANTHROPIC_KEY"},
        )
        assert cooled.status_code == 200, cooled.text
        states = {a["name"]: a["liveness"] for a in operator.get("/api/v1/agents").json()["agents"]}
        assert states["donna"] == "cooling_down" and states["jarvis"] == "working"
        answer = donna.post("/api/v1/agents/donna/heartbeat", json={"status": "working"}).json()
        assert answer["liveness"] == "cooling_down", "a heartbeat does not end a cooldown early"
        # The server notices the end of the cooldown itself, and logs it.
        deadline = time.monotonic() + 20
        while True:
            changes = operator.get(
                "/api/v1/events", params={"types": "agent.liveness_changed,agent.cooling_down"}
            ).json()["events"]
            donna_changes = [
                (e["type"], e["data"].get("to")) for e in changes if e["data"]["agent"] == "donna"
            ]
            if donna_changes[-1] == ("agent.liveness_changed", "working"):
                break
            assert time.monotonic() < deadline, f"the cooldown never ended: {donna_changes}"
            time.sleep(0.2)
        assert ("agent.cooling_down", None) in donna_changes
        assert ("agent.liveness_changed", "cooling_down") in donna_changes
        assert operator.get("/api/v1/agents/donna").json()["liveness"] == "working"
