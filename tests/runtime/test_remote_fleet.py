"""``mcos run --url --token`` with no fleet.toml: the fleet comes from the control plane, and a
changed fleet (``kill -HUP`` on ``mcos serve``) is taken up without restarting the runner."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.server import Server
from tests.runtime.test_mcos_run import create_task, run_once, runner_env, stop, wait_until

NOVA = """
[[agents]]
name = "nova"
role = "research"
title = "Joined while the runner ran"
machine = "mac-mini"
provider = "anthropic"
model = "claude-sonnet-4-6"
context_window = 200000
credential = "MCOS_NOVA_ANTHROPIC_KEY"
capabilities = ["read", "plan"]
supervisor = "jarvis"

[[services]]
name = "mac-mini-ssh"
machine = "mac-mini"
owner = "jarvis"
kind = "tcp"
port = 9
every_seconds = 3600
"""


def test_a_runner_without_fleet_toml_follows_the_control_planes_fleet(
    srv: Server, tmp_path: Path
) -> None:
    token = json.loads(srv.mcos("tokens", "issue", "--runner", "mac-mini", "--json").stdout)[
        "token"
    ]
    elsewhere = tmp_path / "mac-mini"
    elsewhere.mkdir()
    script = Script(
        [
            Rule(key="key-donna", steps=(Step.reply("(simulated) digest done"),)),
            Rule(key="key-nova", steps=(Step.reply("(simulated) found it"),)),
        ]
    )
    log_path = elsewhere / "run.log"
    with FakeProviderServer(script) as fake, srv.client() as api:
        env = runner_env(srv, fake.url) | {
            "MCOS_URL": srv.url,
            "MCOS_TOKEN": token,
            "MCOS_NOVA_ANTHROPIC_KEY": "key-nova",
            "MCOS_FLEET_POLL_SECONDS": "0.3",
            "XDG_CONFIG_HOME": str(tmp_path / "no-current-fleet"),  # nothing remembered
        }
        donna_task = create_task(api, "Inbox digest", "donna")
        with log_path.open("ab") as log:
            runner = subprocess.Popen(
                [sys.executable, "-m", "mcos", "run"],
                cwd=elsewhere,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: api.get(f"/api/v1/tasks/{donna_task}").json()["status"] == "review")
            said = log_path.read_text()
            assert "from the control plane, checked every 0.3 s" in said

            # The operator edits the fleet file and reloads the control plane.
            path = srv.fleet_dir / "fleet.toml"
            text = path.read_text()
            apex = text.index('name = "apex"')
            text = text[:apex] + text[apex:].replace(
                'machine = "mac-mini"\n', 'machine = "mac-mini"\nruntime = "external"\n', 1
            )
            vega = text.index('name = "vega"')
            at = text.index("capabilities = [", vega)
            end = text.index("]", at)
            text = text[:at] + 'capabilities = ["read", "plan"' + text[end:]
            path.write_text(text + NOVA)
            assert srv.process is not None
            srv.process.send_signal(signal.SIGHUP)

            wait_until(lambda: "agent nova joined" in log_path.read_text())
            nova_task = create_task(api, "Find the supplier's registration", "nova")
            wait_until(lambda: api.get(f"/api/v1/tasks/{nova_task}").json()["status"] == "review")
            assert runner.poll() is None, "the same runner process"
        finally:
            code = stop(runner)
        said = log_path.read_text()
        assert code == 0, said
        assert "agent apex left this machine's fleet: stopping it" in said
        assert "agent vega changed in the fleet: restarting its loop" in said
        assert "the services of machine 'mac-mini' changed" in said, "what needs a restart"
        assert "agent jarvis changed" not in said, "an agent whose settings did not change runs on"
        assert {r.key for r in fake.requests} >= {"key-donna", "key-nova"}
    # Its state lives where it was started: no fleet file, no operator token.
    assert not (elsewhere / "fleet.toml").exists()
    assert (elsewhere / ".mcos" / "runner" / "mac-mini" / "outbox.db").is_file()
    assert (elsewhere / "workspaces" / "nova").is_dir()


def test_tokens_that_cannot_run_a_machine_are_told_why(srv: Server, tmp_path: Path) -> None:
    env = dict(srv.env) | {
        "MCOS_URL": srv.url,
        "XDG_CONFIG_HOME": str(tmp_path / "no-current-fleet"),
    }
    empty = tmp_path / "empty"
    empty.mkdir()

    def run(token: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mcos", "run", *args],
            cwd=empty,
            env=env | {"MCOS_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=60,
        )

    operator = run(srv.operator_token)
    assert operator.returncode == 1 and "--machine" in operator.stderr
    agent = run(srv.agent_token("donna"))
    assert agent.returncode == 1 and "runner token of its machine" in agent.stderr
    velo = json.loads(srv.mcos("tokens", "issue", "--runner", "velo", "--json").stdout)["token"]
    other = run(velo, "--machine", "mac-mini")
    assert other.returncode == 1 and "not 'mac-mini'" in other.stderr
    del env["MCOS_URL"]
    nowhere = run_once(env | {"MCOS_TOKEN": ""}, "run")
    assert nowhere.returncode == 1 and "--url and --token" in nowhere.stderr
