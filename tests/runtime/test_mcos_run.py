"""``mcos run`` as an operator runs it: the seed's fleet on its two machines, a fake Anthropic API,
a real control plane, and everything visible with ``mcos events tail``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mcos.fleet.loader import load_fleet
from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.testing.fake_providers import FakeProviderServer, script_path
from tests.fixtures.processes import stop as stop_process
from tests.fixtures.processes import wait_until
from tests.fixtures.server import Server


def runner_env(srv: Server, fake_url: str, **extra: str) -> dict[str, str]:
    env = dict(srv.env)
    for agent in load_fleet(srv.fleet_dir).agents:
        env[agent.credential] = f"key-{agent.name}"
    return env | {"ANTHROPIC_BASE_URL": fake_url, "OPENAI_BASE_URL": fake_url + "/v1"} | extra


def start_runner(srv: Server, machine: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with (srv.fleet_dir / f"run-{machine}.log").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcos",
                "--fleet",
                str(srv.fleet_dir),
                "run",
                "--machine",
                machine,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def run_once(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``mcos ARGS`` run to its end (a runner that refuses to start), its output kept."""
    return subprocess.run(
        [sys.executable, "-m", "mcos", *args], env=env, capture_output=True, text=True, timeout=60
    )


def stop(process: subprocess.Popen[bytes]) -> int:
    return stop_process(process, 60)


def allowed(api: httpx.Client, agent: str) -> bool:
    """The control plane has allowed one of the agent's actions (so its tool is running)."""
    decided = api.get("/api/v1/events", params={"types": "policy.decided"}).json()["events"]
    return any(e["data"]["agent"] == agent and e["data"]["outcome"] == "allow" for e in decided)


def create_task(api: httpx.Client, title: str, assignee: str) -> int:
    response = api.post("/api/v1/tasks", json={"title": title, "assignee": assignee})
    assert response.status_code == 201, response.text
    task_id: int = response.json()["id"]
    return task_id


def test_mcos_run_drives_the_seed_fleet_through_the_control_plane(srv: Server) -> None:
    script = Script.from_file(script_path("seed-day"))  # what the README's walkthrough uses
    with FakeProviderServer(script) as fake, srv.client() as api:
        tasks = {
            name: create_task(api, title, name)
            for name, title in [
                ("flow", "Rebuild fibreflow"),
                ("donna", "Inbox digest"),
                ("jarvis", "Morning briefing"),
                ("apex", "Draft the supplier contract"),
                ("vega", "Variance analysis"),
                ("elon", "Check the 9 services"),
            ]
        }
        env = runner_env(srv, fake.url)
        runners = [start_runner(srv, machine, env) for machine in ("mac-mini", "velo")]
        try:

            def settled() -> bool:
                status = {
                    n: api.get(f"/api/v1/tasks/{t}").json()["status"] for n, t in tasks.items()
                }
                donna = api.get("/api/v1/agents/donna").json()["liveness"]
                return (
                    status["flow"] == "blocked"
                    and all(status[n] == "review" for n in ("jarvis", "apex", "vega", "elon"))
                    and donna == "cooling_down"
                )

            wait_until(settled)
        finally:
            codes = [stop(r) for r in runners]
        assert codes == [0, 0], [
            (srv.fleet_dir / f"run-{m}.log").read_text() for m in ("mac-mini", "velo")
        ]

        agents = {a["name"]: a for a in api.get("/api/v1/agents").json()["agents"]}
        assert [n for n, a in agents.items() if a["liveness"] == "cooling_down"] == ["donna"]
        assert agents["jarvis"]["compactions"] == 1
        # Every agent with work called the model with its own key, and only its own.
        assert {r.key for r in fake.requests} == {f"key-{n}" for n in tasks}

    workspaces = srv.fleet_dir / "workspaces"
    today_notes = list((workspaces / "jarvis" / "memory").glob("*.md"))
    assert today_notes and "before compaction" in today_notes[0].read_text()
    assert (workspaces / "elon" / "status.txt").read_text() == "9 services up\n"

    types = "policy.decided,agent.cooling_down,memory.*,runtime.task_escalated"
    with srv.client() as api:
        count = len(api.get("/api/v1/events", params={"types": types}).json()["events"])
    tail = srv.mcos("events", "tail", "--after", "0", "--count", str(count), "--types", types)
    lines = tail.stdout.splitlines()
    assert sum("flow shell.exec cd /srv/fibreflow && next build -> deny" in x for x in lines) == 3
    assert any("donna MCOS_DONNA_ANTHROPIC_KEY rate limited" in x for x in lines)
    assert any("jarvis wrote its" in x and "memory note" in x for x in lines)
    assert any("jarvis compacted 182000 ->" in x for x in lines)
    assert any("elon shell.exec echo 9 services up" in x and "-> allow" in x for x in lines)
    assert any("flow #" in x and "escalated to elon" in x for x in lines)


def test_mcos_run_refuses_to_start_without_each_agents_credential(srv: Server) -> None:
    env = runner_env(srv, "http://127.0.0.1:9")
    del env["MCOS_FLOW_ANTHROPIC_KEY"]
    result = srv.mcos("run", "--machine", "velo", check=False)
    assert result.returncode == 1
    assert "MCOS_ELON_ANTHROPIC_KEY is not set" in result.stderr  # srv.env has no keys at all
    partial = run_once(env, "run", "--machine", "velo")
    assert partial.returncode == 1
    assert "agents[6] (flow).credential: environment variable MCOS_FLOW_ANTHROPIC_KEY" in (
        partial.stderr
    )
    assert "fix: export MCOS_FLOW_ANTHROPIC_KEY=" in partial.stderr
    assert "MCOS_ELON_ANTHROPIC_KEY" not in partial.stderr


def test_mcos_run_names_an_unknown_provider_and_machine(srv: Server) -> None:
    fleet_file = srv.fleet_dir / "fleet.toml"
    fleet_file.write_text(
        fleet_file.read_text().replace('provider = "anthropic"', 'provider = "gemini"', 1)
    )
    result = srv.mcos("run", "--machine", "mac-mini", check=False)
    assert result.returncode != 0
    assert "fleet.toml" in result.stderr and "provider" in result.stderr
    assert "anthropic" in result.stderr and "simulated" in result.stderr  # the choices
    fleet_file.write_text(
        fleet_file.read_text().replace('provider = "gemini"', 'provider = "anthropic"')
    )
    unknown = srv.mcos("run", "--machine", "mac-studio", check=False)
    assert unknown.returncode == 1
    assert "no machine named 'mac-studio'" in unknown.stderr and "mac-mini, velo" in unknown.stderr


def test_mcos_run_never_takes_the_machine_from_the_host_name(srv: Server) -> None:
    """A machine named like this host is still not chosen for it: the runner is told which
    machine it runs, by --machine or by its runner token, or the fleet has only one."""
    host = socket.gethostname().split(".")[0].lower()
    fleet_file = srv.fleet_dir / "fleet.toml"
    fleet_file.write_text(
        fleet_file.read_text() + f'\n[[machines]]\nname = "{host}"\nsandbox = "none"\n'
    )
    result = srv.mcos("run", check=False)
    assert result.returncode == 1, result.stderr
    assert f"several machines (mac-mini, velo, {host})" in result.stderr
    assert "(field: --machine)" in result.stderr and "--runner MACHINE" in result.stderr


def test_sigterm_finishes_the_step_and_a_restart_resumes_with_nothing_lost(srv: Server) -> None:
    slow = Step.call("run_shell", {"command": "sleep 2; echo built > build.log"})
    script = Script([Rule(key="key-elon", times=1, steps=(slow,))])
    with FakeProviderServer(script) as fake, srv.client() as api:
        task = create_task(api, "Rebuild the billing service", "elon")
        env = runner_env(srv, fake.url)
        runner = start_runner(srv, "velo", env)
        wait_until(lambda: allowed(api, "elon"))
        time.sleep(0.5)  # the command is running now: stop in the middle of the step
        assert stop(runner) == 0
        workspace = srv.fleet_dir / "workspaces" / "elon"
        assert (workspace / "build.log").read_text() == "built\n"  # the step was finished
        outbox = srv.fleet_dir / ".mcos" / "runner" / "velo" / "outbox.db"
        with contextlib.closing(sqlite3.connect(outbox)) as conn:
            (kept,) = conn.execute("SELECT value FROM kept WHERE key = 'state:elon'").fetchone()
        assert str(task) in json.loads(kept)["conversations"]
        assert api.get(f"/api/v1/tasks/{task}").json()["status"] == "in_progress"

        runner = start_runner(srv, "velo", env)
        try:
            wait_until(lambda: api.get(f"/api/v1/tasks/{task}").json()["status"] == "review")
        finally:
            assert stop(runner) == 0
        elon = [r for r in fake.requests if r.key == "key-elon"]
        # The restart went on from the tool result; it did not start the task over.
        assert len(elon) == 2 and elon[1].tool_results == ("exit status 0\n",)
        calls = api.get("/api/v1/events", params={"types": "usage.recorded"}).json()["events"]
        assert len([c for c in calls if c["data"]["agent"] == "elon"]) == 2


def test_reports_made_while_the_control_plane_is_down_arrive_once_it_is_back(srv: Server) -> None:
    slow = Step.call("run_shell", {"command": "sleep 3; echo ok"})
    script = Script([Rule(key="key-elon", times=1, steps=(slow,))])
    with FakeProviderServer(script) as fake, srv.client() as api:
        task = create_task(api, "Patch the router firmware", "elon")
        runner = start_runner(srv, "velo", runner_env(srv, fake.url))
        try:
            wait_until(lambda: allowed(api, "elon"))
            srv.kill()  # the control plane dies while elon's command runs
            wait_until(lambda: len(fake.requests) >= 2)  # elon carried on and finished
            assert runner.poll() is None
            srv.start()
            wait_until(lambda: api.get(f"/api/v1/tasks/{task}").json()["status"] == "review")
        finally:
            assert stop(runner) == 0
        history = api.get(f"/api/v1/tasks/{task}").json()["history"]
        moves = [h["data"]["to"] for h in history if h["type"] == "task.moved"]
        assert moves == ["in_progress", "review"]
        assert len([h for h in history if h["type"] == "task.commented"]) == 1
        # Not worked twice: the control plane still showed it in progress when the agent's
        # heartbeat got through, before the outbox had delivered the moves.
        assert len([r for r in fake.requests if r.key == "key-elon"]) == 2
        calls = api.get("/api/v1/events", params={"types": "usage.recorded"}).json()["events"]
        assert len([c for c in calls if c["data"]["agent"] == "elon"]) == 2
    assert os.path.exists(srv.fleet_dir / ".mcos" / "runner" / "velo" / "outbox.db")


def test_a_runner_on_the_second_machine_needs_only_its_runner_token(
    srv: Server, tmp_path: Path
) -> None:
    """The Mac Mini has the fleet file and its runner token: no operator token, no database."""
    issued = srv.mcos("tokens", "issue", "--runner", "mac-mini", "--json")
    token = json.loads(issued.stdout)["token"]
    elsewhere = tmp_path / "mac-mini"
    elsewhere.mkdir()
    shutil.copy(srv.fleet_dir / "fleet.toml", elsewhere / "fleet.toml")
    script = Script([Rule(key="key-donna", steps=(Step.reply("(simulated) digest done"),))])
    with FakeProviderServer(script) as fake, srv.client() as api:
        task = create_task(api, "Inbox digest", "donna")
        env = runner_env(srv, fake.url) | {"MCOS_TOKEN": token, "MCOS_URL": srv.url}
        wrong = run_once(env, "--fleet", str(elsewhere), "run", "--machine", "velo")
        assert wrong.returncode == 1
        assert "acts only for machine 'mac-mini', not velo" in wrong.stderr
        with (elsewhere / "run.log").open("ab") as log:
            runner = subprocess.Popen(
                [sys.executable, "-m", "mcos", "--fleet", str(elsewhere), "run"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: api.get(f"/api/v1/tasks/{task}").json()["status"] == "review")
        finally:
            assert stop(runner) == 0
        donna = [
            e for e in api.get("/api/v1/events").json()["events"] if e["actor"] == "agent:donna"
        ]
    assert donna, "donna worked, as herself, through the Mac Mini's runner token"
    kept = [p for p in elsewhere.rglob("*") if p.is_file()]
    for path in kept:
        data = path.read_bytes()
        assert srv.operator_token.encode() not in data and b"mcos_o_" not in data, path
    assert not (elsewhere / ".mcos" / "operator.token").exists()
    # What the runner made is its owner's alone (the CLI's umask is 077).
    for made in (elsewhere / ".mcos", elsewhere / "workspaces", elsewhere / "workspaces/donna"):
        assert made.stat().st_mode & 0o777 == 0o700, made
    assert (elsewhere / ".mcos/runner/mac-mini/outbox.db").stat().st_mode & 0o777 == 0o600


def test_exec_without_a_sandbox_refuses_to_start_unless_the_machine_opts_out(
    srv: Server,
) -> None:
    bare = {"PATH": str(Path(sys.executable).parent)}  # no bwrap, no socat, no prlimit
    env = runner_env(srv, "http://127.0.0.1:9") | bare
    refused = run_once(env, "run", "--machine", "velo")
    assert refused.returncode == 1
    assert "agents[4] (elon).capabilities: agent 'elon' has exec" in refused.stderr
    assert "cannot be sandboxed on this machine: bwrap" in refused.stderr
    assert "apt install bubblewrap" in refused.stderr and 'sandbox = "none"' in refused.stderr

    fleet_file = srv.fleet_dir / "fleet.toml"
    text = fleet_file.read_text()
    velo = text.index('name = "velo"')
    fleet_file.write_text(text[:velo] + text[velo:].replace("bubblewrap", "none", 1))
    srv.stop()
    srv.start()
    checked = srv.mcos("fleet", "check").stdout
    assert "warning: elon: Elon has exec on machine 'velo', which has no sandbox" in checked
    with srv.client() as api:
        [warning] = api.get("/api/v1/agents/elon").json()["warnings"]
        assert "its commands run unconfined" in warning
        assert api.get("/api/v1/agents/flow").json()["warnings"] == []  # no exec, no warning
    with (srv.fleet_dir / "run-velo.log").open("ab") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "mcos", "run", "--machine", "velo"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "running" in (srv.fleet_dir / "run-velo.log").read_text())
    finally:
        assert stop(runner) == 0
    said = (srv.fleet_dir / "run-velo.log").read_text()
    assert "warning: Elon has exec on machine 'velo', which has no sandbox" in said
