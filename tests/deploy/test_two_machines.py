"""The seed's two machines, for real: the control plane on a "VPS" behind Caddy's TLS on
PostgreSQL, and the agents' runner on a "Mac Mini" that has nothing but the URL, a runner token
and the CA that signed the certificate.

Each machine is a network namespace (tests/fixtures/netns.py): the Mac Mini reaches the VPS only
at 10.231.0.1, over the veth pair between them, and only through Caddy on port 443; the
control plane listens on the VPS's own loopback, as docs/deployment.md sets it up. The model is
the wire-level fake Anthropic API, run on the Mac Mini where the agents call it. Then two named
operators decide, Prometheus scrapes, and a backup restored into a fresh database shows the same
fleet: the issue's "done when", end to end.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families

from mcos.api.session import CSRF_HEADER
from tests.fixtures.database import own_postgres_database
from tests.fixtures.netns import Machine, two_machines
from tests.fixtures.processes import stop, wait_until
from tests.fixtures.server import mcos_env, run_mcos

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "Caddyfile"
SITE_LINE = "{$MCOS_SITE:mc.example.com} {\n"
FAKE_PORT = 8790
PG_SOCKET = "/var/run/postgresql"


class Processes:
    """Processes started in the machines' networks, each with a log; all stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, machine: Machine, argv: list[str], env: dict[str, str], cwd: Path
    ) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                machine.command(*argv), env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
            )
        self.started.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in reversed(self.started):
            stop(process)


@pytest.fixture
def machines() -> Iterator[tuple[Machine, Machine]]:
    with two_machines() as pair:
        yield pair


@pytest.fixture
def ca(tmp_path: Path) -> tuple[trustme.CA, Path, Path, Path]:
    """The CA, its certificate (what the Mac Mini trusts), and the VPS's certificate and key
    for 10.231.0.1."""
    authority = trustme.CA()
    issued = authority.issue_cert("10.231.0.1")
    folder = tmp_path / "tls"
    folder.mkdir()
    ca_file, cert, key = folder / "ca.pem", folder / "vps.pem", folder / "vps.key"
    authority.cert_pem.write_to_path(str(ca_file))
    issued.private_key_pem.write_to_path(str(key))
    for n, blob in enumerate(issued.cert_chain_pems):
        blob.write_to_path(str(cert), append=n > 0)
    return authority, ca_file, cert, key


@pytest.mark.timeout(400)  # six processes start on a loaded machine; each wait has its own limit
def test_the_control_plane_on_the_vps_and_the_runner_on_the_mac_mini(
    machines: tuple[Machine, Machine], ca: tuple[trustme.CA, Path, Path, Path], tmp_path: Path
) -> None:
    vps, mac = machines
    authority, ca_file, cert, key = ca
    procs = Processes(tmp_path)
    with (
        own_postgres_database("two_machines") as tcp_url,
        own_postgres_database("two_machines_restored") as fresh_tcp_url,
    ):
        # On the VPS, PostgreSQL is reached over its Unix socket (its own machine's).
        database, fresh = (
            url.replace("@127.0.0.1:5432/", "@/") + f"?host={PG_SOCKET}"
            for url in (tcp_url, fresh_tcp_url)
        )
        try:
            _run_the_two_machines(vps, mac, authority, ca_file, cert, key, database, procs)
            _restore_on_the_vps(vps, database, fresh, procs)
        finally:
            procs.stop_all()


def _run_the_two_machines(
    vps: Machine,
    mac: Machine,
    authority: trustme.CA,
    ca_file: Path,
    cert: Path,
    key: Path,
    database: str,
    procs: Processes,
) -> None:
    home = procs.folder
    # --- The VPS: the fleet, the control plane on loopback, Caddy in front. ---
    vps_env = mcos_env(home / "vps") | {"MCOS_DATABASE_URL": database}
    fleet = home / "vps" / "fleet"
    run_mcos("init", str(fleet), env=vps_env)
    operator_token = (fleet / ".mcos" / "operator.token").read_text().strip()

    in_the_clear = subprocess.run(
        vps.command(sys.executable, "-m", "mcos", "serve", "--fleet", str(fleet),
                    "--host", vps.address, "--port", "8750"),
        env=vps_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert in_the_clear.returncode == 1, in_the_clear.stdout + in_the_clear.stderr
    assert f"refusing to listen on '{vps.address}' over plain HTTP" in in_the_clear.stderr
    assert "(field: --host)" in in_the_clear.stderr

    public = f"https://{vps.address}"
    serve_env = vps_env | {"MCOS_PUBLIC_URL": public, "MCOS_TRUSTED_PROXIES": "127.0.0.1"}
    serve = procs.start(
        "serve", vps, [sys.executable, "-m", "mcos", "serve", "--fleet", str(fleet)],
        serve_env, home,
    )  # fmt: skip

    # deploy/Caddyfile as it ships, with the CA's certificate in place of ACME (no internet).
    example = CADDYFILE.read_text()
    assert example.count(SITE_LINE) == 1, "the site line the docs tell operators to set"
    caddyfile = home / "Caddyfile"
    caddyfile.write_text(example.replace(SITE_LINE, SITE_LINE + f"\ttls {cert} {key}\n"))
    caddy_home = home / "caddy"
    caddy_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(caddy_home),
        "XDG_DATA_HOME": str(caddy_home / "data"),
        "XDG_CONFIG_HOME": str(caddy_home / "config"),
        "MCOS_SITE": public,
    }
    caddy = procs.start(
        "caddy", vps, ["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        caddy_env, home,
    )  # fmt: skip

    # --- The Mac Mini: the operator's calls, the fake model, the runner. ---
    trusted = ssl.create_default_context()
    authority.configure_trust(trusted)
    with mac.thread() as on_mac, httpx.Client(
        base_url=public, verify=trusted, timeout=30,
        headers={"Authorization": f"Bearer {operator_token}"},
    ) as operator:  # fmt: skip

        def answered() -> bool:
            assert serve.poll() is None, procs.log("serve")
            assert caddy.poll() is None, procs.log("caddy")
            try:
                return bool(on_mac(lambda: operator.get("/api/v1/health")).status_code == 200)
            except httpx.TransportError:
                return False

        wait_until(answered, "the control plane through Caddy")
        health = on_mac(lambda: operator.get("/api/v1/health")).json()
        assert health["database"] == "postgresql"
        direct = f"http://{vps.address}:8750/api/v1/health"
        with pytest.raises(httpx.ConnectError):
            on_mac(lambda: httpx.get(direct, timeout=5))  # only Caddy is reachable

        mac_home = home / "mac"
        mac_home.mkdir()
        mac_env = mcos_env(mac_home) | {"SSL_CERT_FILE": str(ca_file)}
        issued = subprocess.run(
            mac.command(sys.executable, "-m", "mcos", "--url", public, "--token",
                        operator_token, "tokens", "issue", "--runner", "mac-mini", "--json"),
            env=mac_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert issued.returncode == 0, issued.stderr
        runner_token = json.loads(issued.stdout)["token"]

        script = home / "script.json"
        script.write_text(
            json.dumps({"rules": [{"key": "key-donna", "steps": [{"text": "(fake) digest done"}]}]})
        )
        fake_argv = [sys.executable, "-m", "mcos.testing.fake_providers", "--port",
                     str(FAKE_PORT), "--script", str(script)]  # fmt: skip
        fake = procs.start("fake", mac, fake_argv, mac_env, mac_home)

        runner_env = mac_env | {
            "MCOS_URL": public,
            "MCOS_TOKEN": runner_token,
            "MCOS_DONNA_ANTHROPIC_KEY": "key-donna",
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{FAKE_PORT}",
        }
        runner = procs.start(
            "runner", mac, [sys.executable, "-m", "mcos", "run", "--agent", "donna"],
            runner_env, mac_home,
        )  # fmt: skip

        def donna_reported() -> bool:
            assert runner.poll() is None, procs.log("runner")
            agent = on_mac(lambda: operator.get("/api/v1/agents/donna")).json()
            return agent["liveness"] != "offline"

        wait_until(donna_reported, "donna's first heartbeat from the Mac Mini")
        # The operator, in the dashboard at the public URL, gives Donna a task. Created now, it
        # reaches the waiting runner by its live stream through Caddy.
        with httpx.Client(base_url=public, verify=trusted, timeout=30) as browser:
            signed = on_mac(
                lambda: browser.post("/api/v1/dashboard/session", json={"token": operator_token})
            )
            assert signed.status_code == 200, signed.text
            assert "Secure" in signed.headers["set-cookie"], "https through the proxy"
            csrf = {CSRF_HEADER: signed.json()["csrf"], "Origin": public}
            created = on_mac(
                lambda: browser.post(
                    "/api/v1/tasks",
                    json={"title": "Inbox digest", "assignee": "donna"},
                    headers=csrf,
                )
            )
        assert created.status_code == 201, created.text
        task = created.json()["id"]

        def in_review() -> bool:
            assert runner.poll() is None, procs.log("runner")
            assert fake.poll() is None, procs.log("fake")
            return bool(
                on_mac(lambda: operator.get(f"/api/v1/tasks/{task}")).json()["status"] == "review"
            )

        wait_until(in_review, "donna's task done on the Mac Mini")
        fake_url = f"http://127.0.0.1:{FAKE_PORT}/_fake/requests"
        calls: list[dict[str, Any]] = on_mac(lambda: httpx.get(fake_url)).json()["requests"]
        assert [c["key"] for c in calls] == ["key-donna"], "donna called the model, with her key"
        events = on_mac(lambda: operator.get("/api/v1/events", params={"limit": 1000})).json()
        actors = {e["actor"] for e in events["events"]}
        assert "agent:donna" in actors, "donna acted as herself"

        _two_people_decide(mac, public, trusted, operator_token, mac_env, task, on_mac)

        runner.send_signal(signal.SIGTERM)
        assert runner.wait(60) == 0, procs.log("runner")
    said = procs.log("runner")
    assert "fleet version" in said and "from the control plane" in said, said
    assert f"-> {public}" in said
    # The Mac Mini keeps only the runner's state: no fleet file, no operator token.
    assert not (mac_home / "fleet.toml").exists()
    assert (mac_home / ".mcos" / "runner" / "mac-mini" / "outbox.db").is_file()
    for path in mac_home.rglob("*"):
        if path.is_file():
            assert operator_token.encode() not in path.read_bytes(), path


def _mcos_on(machine: Machine, env: dict[str, str], *args: str) -> str:
    """``mcos ARGS`` run on ``machine``; its standard output (it must succeed)."""
    done = subprocess.run(
        machine.command(sys.executable, "-m", "mcos", *args),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"mcos {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _two_people_decide(
    mac: Machine,
    public: str,
    trusted: ssl.SSLContext,
    owner_token: str,
    mac_env: dict[str, str],
    task: int,
    on_mac: Callable[[Callable[[], Any]], Any],
) -> None:
    """The owner adds Alice (approver) and Bob (viewer) from the Mac Mini; each signs in to the
    dashboard through Caddy; Alice accepts Donna's work and it is recorded as hers; Bob's change
    is refused; Prometheus scrapes /metrics with Bob's token."""
    as_owner = ["--url", public, "--token", owner_token]
    tokens = {
        name: json.loads(
            _mcos_on(mac, mac_env, *as_owner, "operators", "add", name, "--role", role, "--json")
        )["token"]
        for name, role in (("alice", "approver"), ("bob", "viewer"))
    }
    listed = json.loads(_mcos_on(mac, mac_env, *as_owner, "operators", "ls", "--json"))
    roles = {p["name"]: p["role"] for p in listed}
    assert (roles["alice"], roles["bob"]) == ("approver", "viewer"), roles

    def signed_in(client: httpx.Client, name: str) -> dict[str, str]:
        session = on_mac(
            lambda: client.post("/api/v1/dashboard/session", json={"token": tokens[name]})
        )
        assert session.status_code == 200, session.text
        assert session.json()["operator"] == name, session.text
        return {CSRF_HEADER: session.json()["csrf"], "Origin": public}

    move = f"/api/v1/tasks/{task}/move"
    with httpx.Client(base_url=public, verify=trusted, timeout=30) as bobs:
        headers = signed_in(bobs, "bob")
        refused = on_mac(lambda: bobs.post(move, json={"status": "done"}, headers=headers))
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "read_only_operator", refused.text
    with httpx.Client(base_url=public, verify=trusted, timeout=30) as alices:
        headers = signed_in(alices, "alice")
        accepted = on_mac(lambda: alices.post(move, json={"status": "done"}, headers=headers))
        assert accepted.status_code == 200, accepted.text
    with httpx.Client(base_url=public, verify=trusted, timeout=30) as owner:
        owner.headers["Authorization"] = f"Bearer {owner_token}"
        history = on_mac(lambda: owner.get(f"/api/v1/tasks/{task}")).json()["history"]
    moves = [(e["actor"], e["data"]["to"]) for e in history if e["type"] == "task.moved"]
    assert moves[-1] == ("operator:alice", "done"), moves

    with httpx.Client(base_url=public, verify=trusted, timeout=30) as prometheus:
        prometheus.headers["Authorization"] = f"Bearer {tokens['bob']}"
        scraped = on_mac(lambda: prometheus.get("/metrics"))
    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["content-type"].startswith("text/plain"), scraped.headers
    families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
    liveness = {
        s.labels["liveness"]: s.value
        for s in families["mcos_agent_liveness"].samples
        if s.labels["agent"] == "donna"
    }
    assert liveness and sum(liveness.values()) == 1, liveness  # Donna is in exactly one state


def _restore_on_the_vps(vps: Machine, database: str, fresh: str, procs: Processes) -> None:
    """A backup of the live database, restored into a fresh one, shows the same fleet to a
    control plane started on it: agents, the people and their roles, Donna's accepted task."""
    home = procs.folder
    fleet = home / "vps" / "fleet"
    owner_token = (fleet / ".mcos" / "operator.token").read_text().strip()
    vps_env = mcos_env(home / "vps") | {"MCOS_DATABASE_URL": database}
    backup = home / "vps" / "mcos-backup.tar.gz"
    _mcos_on(vps, vps_env, "backup", "--fleet", str(fleet), str(backup))  # serve still runs
    restored_env = vps_env | {"MCOS_DATABASE_URL": fresh}
    _mcos_on(vps, restored_env, "restore", "--fleet", str(fleet), str(backup))

    def fleet_seen(port: int) -> dict[str, Any]:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {owner_token}"}
        with vps.thread() as on_vps, httpx.Client(base_url=url, headers=headers) as api:

            def answering() -> bool:
                try:
                    return bool(on_vps(lambda: api.get("/api/v1/health")).status_code == 200)
                except httpx.TransportError:
                    return False

            wait_until(answering, f"the control plane on port {port}")
            agents = on_vps(lambda: api.get("/api/v1/agents")).json()["agents"]
            people = on_vps(lambda: api.get("/api/v1/operators")).json()["operators"]
            tasks = on_vps(lambda: api.get("/api/v1/tasks")).json()["tasks"]
        return {
            "agents": sorted(a["name"] for a in agents),
            "people": sorted((p["name"], p["role"]) for p in people),
            "tasks": sorted((t["id"], t["title"], t["status"]) for t in tasks),
        }

    before = fleet_seen(8750)
    again = procs.start(
        "serve-restored", vps,
        [sys.executable, "-m", "mcos", "serve", "--fleet", str(fleet), "--port", "8751"],
        restored_env, home,
    )  # fmt: skip
    after = fleet_seen(8751)
    assert again.poll() is None, procs.log("serve-restored")
    assert after == before
    assert ("alice", "approver") in after["people"] and ("bob", "viewer") in after["people"]
    assert any(status == "done" for _, _, status in after["tasks"]), after["tasks"]
