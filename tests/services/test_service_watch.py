"""The service watch end to end: real HTTP services the test kills, a real runner on velo (the
second machine) probing them, a real control plane raising the incident and the owner's task
with the diagnosis, and remedies carried out only as each service's runbook allows."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcos.fleet.loader import load_fleet
from mcos.runtime.probes import command_lines
from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.runtime import events, fake_keys, make_runner, running
from tests.fixtures.server import Server, error_of, free_port, running_server

SERVE = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"FibreFlow ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""
NAMES = ("web-auto", "web-ask", "web-deny")


class Services:
    """Three tiny HTTP services, each started as its runbook's restart would start it."""

    def __init__(self, folder: Path) -> None:
        self.marker = f"mcos-svc-{uuid.uuid4().hex[:8]}"
        self.script = folder / "serve.py"
        self.script.write_text(SERVE)
        self.ports = {name: free_port() for name in NAMES}

    def start_command(self, name: str) -> str:
        port = self.ports[name]
        return f"{sys.executable} {self.script} {port} {self.marker}-{name} >/dev/null 2>&1 &"

    def fleet_extra(self) -> str:
        entries = []
        for name, policy in zip(NAMES, ("allow", "ask", "deny"), strict=True):
            entries.append(
                f"""
[[services]]
name = "{name}"
machine = "velo"
kind = "http"
url = "http://127.0.0.1:{self.ports[name]}/"
expect_body = "FibreFlow"
every_seconds = 0.2
failures_before_down = 2
severity = "P2"
{"auto_restart = true" if policy == "allow" else ""}
[services.runbook]
diagnose = ["echo diagnosis-of-{name}", "echo port {self.ports[name]}"]
restart = {{ command = "{self.start_command(name)}", policy = "{policy}" }}
"""
            )
        return "".join(entries) + PRODUCTION

    def start(self, name: str) -> None:
        subprocess.run(["/bin/sh", "-c", self.start_command(name)], check=True)
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.ports[name])) == 0:
                    return
            assert time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.02)

    def kill(self, name: str | None = None) -> None:
        mark = self.marker if name is None else f"{self.marker}-{name}"
        for pid, line in command_lines():
            if mark in line and "serve.py" in line:
                os.kill(pid, signal.SIGKILL)


PRODUCTION = """
[[services]]
name = "fibreflow"
machine = "velo"
kind = "tcp"
port = 9
every_seconds = 3600
production = true
[services.runbook]
restart = { command = "npm run build && systemctl restart ff", policy = "allow" }
"""


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    found = Services(tmp_path)
    try:
        yield found
    finally:
        found.kill()


@pytest.fixture
def watched(tmp_path: Path, services: Services) -> Iterator[Server]:
    url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with running_server(tmp_path, url, fleet_extra=services.fleet_extra()) as server:
        yield server


async def service(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/services/{name}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_a_killed_service_is_detected_escalated_and_restarted_only_as_allowed(
    watched: Server, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in NAMES:
        services.start(name)
    with FakeProviderServer() as fake:
        fake_keys(monkeypatch, load_fleet(watched.fleet_dir), fake.url)
        fake.set_script(
            Script(
                [
                    Rule(
                        key="key-elon",
                        contains=f"Outage: {name} is down",
                        times=1,
                        steps=(
                            Step.call("restart_service", {"service": name}),
                            Step.reply(f"(asked to restart {name})"),
                        ),
                    )
                    for name in ("web-ask", "web-deny")
                ]
            )
        )
        asyncio.run(_story(watched, services))


async def _story(srv: Server, services: Services) -> None:
    runner = make_runner(srv, ["elon"])
    async with running(runner, url=srv.url, token=srv.operator_token, seconds=90) as agents:
        api = agents.api

        async def all_up(api: httpx.AsyncClient) -> bool:
            return [(await service(api, n))["state"] for n in NAMES] == ["up"] * len(NAMES)

        await agents.until(all_up)
        services.kill()  # the user stops them on the second machine

        async def auto_recovered(api: httpx.AsyncClient) -> bool:
            seen = await service(api, "web-auto")
            return seen["state"] == "up" and bool(seen["history"])

        async def others_down(api: httpx.AsyncClient) -> bool:
            return None not in [
                (await service(api, n))["open_outage"] for n in ("web-ask", "web-deny")
            ]

        await agents.until(auto_recovered)
        await agents.until(others_down)

        # allow + auto_restart: back by the watcher's own restart, asked and recorded.
        auto = await service(api, "web-auto")
        [outage] = auto["history"]
        assert (outage["recovered_by"], outage["stopped"]) == ("auto", True)
        assert auto["outages_stopped"] == 1 and auto["mttr_seconds"] is not None
        assert [(r["by"], r["ok"]) for r in auto["remediations"]] == [("auto", True)]

        # ask: the incident, the owner's task with the diagnosis; the restart waits.
        ask = await service(api, "web-ask")
        opened = ask["open_outage"]
        task = (await api.get(f"/api/v1/tasks/{opened['task_id']}")).json()
        assert (task["assignee"], task["priority"]) == ("elon", "high")
        assert "diagnosis-of-web-ask" in task["description"]
        # The log is fenced as data for Elon's model: outsiders' text, never its orders.
        fenced = task["description"].split("<<<diagnosis service=web-ask nonce=")[1]
        assert "Untrusted data" in fenced and "diagnosis-of-web-ask" in fenced
        assert "<<<end diagnosis nonce=" in fenced
        assert f"port {services.ports['web-ask']}" in task["description"]
        assert "diagnosis-of-web-ask" in ask["last_diagnosis"]
        [attached] = (await api.get(f"/api/v1/tasks/{task['id']}/artifacts")).json()["artifacts"]
        assert attached["name"] == "diagnosis.txt"
        content = await api.get(f"/api/v1/tasks/{task['id']}/artifacts/{attached['id']}/content")
        assert "diagnosis-of-web-ask" in content.text and "web-ask is down on velo" in content.text
        incidents = (await api.get("/api/v1/incidents")).json()["incidents"]
        incident = next(i for i in incidents if i["id"] == opened["incident_id"])
        assert (incident["severity"], incident["reporter"]) == ("P2", "elon")
        assert incident["status"] == "unconfirmed", "P2 waits for the security agent"

        async def restart_asked(api: httpx.AsyncClient) -> bool:
            return bool(await _pending_restart(api, "web-ask"))

        async def deny_refused(api: httpx.AsyncClient) -> bool:
            return bool(await _refusals(api, "web-deny"))

        await agents.until(restart_asked)
        await agents.until(deny_refused)
        [approval] = await _pending_restart(api, "web-ask")
        for name in ("web-ask", "web-deny"):
            seen = await service(api, name)
            assert seen["state"] == "down" and seen["remediations"] == [], (
                f"{name} was not restarted: its policy did not allow it"
            )
        [refusal] = await _refusals(api, "web-deny")
        assert 'policy = "deny"' in refusal["data"]["reason"]

        decided = await api.post(f"/api/v1/approvals/{approval['id']}/approve", json={})
        assert decided.status_code == 200, decided.text

        async def ask_recovered(api: httpx.AsyncClient) -> bool:
            return (await service(api, "web-ask"))["state"] == "up"

        await agents.until(ask_recovered)
        ask = await service(api, "web-ask")
        assert ask["history"][0]["recovered_by"] == "agent"
        assert ask["remediations"][0]["approval_id"] == approval["id"]
        assert (await service(api, "web-deny"))["state"] == "down"
        listed = (await api.get("/api/v1/services")).json()
        assert listed["totals"]["outages_stopped"] == 2
        types = {e["type"] for e in await events(api, "service.*")}
        assert {"service.down", "service.up", "service.remediated"} <= types


async def _pending_restart(api: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    listed = (await api.get("/api/v1/approvals", params={"status": "pending"})).json()
    return [
        a
        for a in listed["approvals"]
        if a["subject"].get("kind") == "service.restart" and a["subject"].get("target") == name
    ]


async def _refusals(api: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    return [
        e
        for e in await events(api, "policy.decided")
        if e["data"].get("outcome") == "deny" and e["data"].get("action", {}).get("target") == name
    ]


def test_only_the_runner_of_the_services_machine_reports_for_it(watched: Server) -> None:
    state = {"state": "up", "at": "2026-11-28T03:00:00Z", "detail": "HTTP 200"}
    with watched.client() as operator:
        runners = {
            machine: operator.post(
                "/api/v1/tokens", json={"kind": "runner", "machine": machine}
            ).json()["token"]
            for machine in ("velo", "mac-mini")
        }

        def report(token: str, agent: str | None, body: dict[str, Any]) -> httpx.Response:
            headers = {"X-MCOS-Agent": agent} if agent else {}
            with watched.client(token) as client:
                return client.post("/api/v1/services/web-ask/state", json=body, headers=headers)

        refused = {
            "another machine's runner": report(runners["mac-mini"], "jarvis", state),
            "velo's runner as another agent": report(runners["velo"], "gene", state),
            "the owner's own agent token": report(watched.agent_token("elon"), None, state),
            "an operator": report(watched.operator_token, None, state),
        }
        for who, response in refused.items():
            assert response.status_code == 403, f"{who} may not report: {response.text}"
            assert error_of(response)["code"] == "forbidden"
        assert operator.get("/api/v1/services/web-ask").json()["state"] == "unknown"

        bad = report(runners["velo"], "elon", state | {"state": "sideways"})
        assert bad.status_code == 422 and error_of(bad)["field"] == "state"
        with watched.client(runners["velo"]) as velo:
            unknown = velo.post(
                "/api/v1/services/nginx/state", json=state, headers={"X-MCOS-Agent": "elon"}
            )
        assert unknown.status_code == 404
        ok = report(runners["velo"], "elon", state)
        assert ok.status_code == 200, ok.text
        assert operator.get("/api/v1/services/web-ask").json()["state"] == "up"

        # No build on production, however the owner asks: refused and recorded.
        with watched.client(runners["velo"]) as velo:
            build = velo.post(
                "/api/v1/actions",
                json={
                    "kind": "service.restart",
                    "target": "fibreflow",
                    "command": "npm run build && systemctl restart ff",
                },
                headers={"X-MCOS-Agent": "elon"},
            )
        assert build.status_code == 403 and error_of(build)["code"] == "policy_denied"
        assert "allow_build = true" in error_of(build)["message"]
        decided = operator.get("/api/v1/events", params={"types": "policy.decided"}).json()
        assert decided["events"][-1]["data"]["rule"] == "production_build"

        # The CLI reads the same: the state just reported, the runbook's remedies.
        shown = json.loads(watched.mcos("services", "show", "web-ask", "--json").stdout)
        assert (shown["state"], shown["remedies"]) == ("up", {"restart": "ask"})
        listed = watched.mcos("services", "ls").stdout
        assert "web-ask" in listed and "up" in listed and "100.00%" in listed
