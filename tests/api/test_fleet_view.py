"""GET /api/v1/fleet: what each caller sees of the fleet file, its version and ETag, and
``kill -HUP`` reloading the file into a running ``mcos serve``."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from mcos.fleet.view import fleet_from_view
from tests.fixtures.server import ControlPlane, Server, error_of


def _as(server: ControlPlane, token: str | None) -> httpx.Client:
    return server.client(token) if token else server.anonymous()


def _runner(server: ControlPlane, machine: str) -> str:
    with server.client() as operator:
        issued = operator.post("/api/v1/tokens", json={"kind": "runner", "machine": machine})
        assert issued.status_code == 201, issued.text
        token: str = issued.json()["token"]
        return token


def test_each_caller_sees_its_part_of_the_fleet_and_never_more(api: ControlPlane) -> None:
    server = api  # what is read needs no process of its own (the SIGHUP test below does)
    with server.client() as operator:
        whole = operator.get("/api/v1/fleet")
        assert whole.status_code == 200, whole.text
        body = whole.json()
        assert body["scope"] == "fleet" and len(body["fleet"]["agents"]) == 23
        assert whole.headers["etag"] == f'"{body["version"]}"'
        assert "database_url" not in body["fleet"]["control_plane"]
        same = operator.get("/api/v1/fleet", headers={"If-None-Match": whole.headers["etag"]})
        assert same.status_code == 304 and same.content == b""
        assert operator.get("/api/v1/fleet", headers={"If-None-Match": '"old"'}).status_code == 200
        as_velo = operator.get("/api/v1/fleet", params={"machine": "velo"}).json()
        assert as_velo["scope"] == "machine" and as_velo["version"] != body["version"]
        unknown = operator.get("/api/v1/fleet", params={"machine": "imac"})
        assert unknown.status_code == 404 and error_of(unknown)["field"] == "machine"
        bad = operator.get("/api/v1/fleet", params={"machine": "Not A Name"})
        assert bad.status_code == 422 and error_of(bad)["field"] == "machine"

    velo_token = _runner(server, "velo")
    with _as(server, velo_token) as runner:
        seen = runner.get("/api/v1/fleet").json()
        assert seen == as_velo, "a runner sees what an operator asking for its machine sees"
        fleet = fleet_from_view(seen["fleet"])
        mine = [a.name for a in fleet.agents if not a.external]
        assert "flow" in mine and all(a.machine == "velo" for a in fleet.agents if not a.external)
        donna = fleet.agent("donna")
        assert donna is not None and donna.external and donna.credential is None
        assert donna.capabilities == () and donna.role == "communications", "the roster only"
        flow = fleet.agent("flow")
        assert flow is not None and flow.credential == "MCOS_FLOW_ANTHROPIC_KEY", "names are fine"
        assert {"notify", "routing", "schedules", "value_ledger"}.isdisjoint(seen["fleet"])
        other = runner.get("/api/v1/fleet", params={"machine": "mac-mini"})
        assert other.status_code == 403 and error_of(other)["field"] == "machine"

    with server.agent("flow") as flow_client:
        own = flow_client.get("/api/v1/fleet").json()
        assert (own["scope"], own["agent"], own["machine"]) == ("agent", "flow", "velo")
        in_full = [a["name"] for a in own["fleet"]["agents"] if a.get("runtime") != "external"]
        assert in_full == ["flow"]
        asked = flow_client.get("/api/v1/fleet", params={"machine": "velo"})
        assert asked.status_code == 403
    with _as(server, None) as nobody:
        assert nobody.get("/api/v1/fleet").status_code == 401


def _wait_for_version(client: httpx.Client, old: str) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get("/api/v1/fleet").json()
        if body["version"] != old:
            return body
        time.sleep(0.1)
    raise AssertionError("the fleet's version never moved after SIGHUP")


def test_sighup_reloads_a_good_fleet_file_and_keeps_the_fleet_on_a_bad_one(
    server: Server,
) -> None:
    path: Path = server.fleet_dir / "fleet.toml"
    original = path.read_text()
    assert server.process is not None
    with _as(server, _runner(server, "velo")) as runner:
        before = runner.get("/api/v1/fleet").json()
        grant = 'capabilities = ["read", "plan", "write"]\n'
        assert original.count(grant) >= 1
        at = original.index('name = "flow"')
        path.write_text(
            original[:at] + original[at:].replace(grant, grant.replace('"]', '", "network"]'), 1)
        )
        server.process.send_signal(signal.SIGHUP)
        after = _wait_for_version(runner, str(before["version"]))
        flow = fleet_from_view(after["fleet"]).agent("flow")  # type: ignore[arg-type]
        assert flow is not None and "network" in flow.capabilities
        with server.client() as operator:
            card = operator.get("/api/v1/agents/flow").json()
            assert "network" in card["capabilities"], "the control plane enforces the new file"

        path.write_text(original.replace('[[agents]]\nname = "flow"', '[[agents]]\nnme = "x"'))
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "not reloaded" not in server.log_path.read_text():
            assert time.monotonic() < deadline, "a bad file is reported in the log"
            time.sleep(0.1)
        kept = runner.get("/api/v1/fleet").json()
        assert kept["version"] == after["version"], "a bad file changes nothing"
    log = server.log_path.read_text()
    assert "agents[6]" in log and "fleet file not reloaded" in log
