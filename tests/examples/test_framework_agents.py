"""The documented examples, run as a user runs them: an OpenAI Agents SDK agent and a LangGraph
agent, each a real process joining a real ``mcos serve`` with its agent token, its model the
wire-level fake OpenAI. Everything is asserted from the control plane's side."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.server import Server, running_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAME = "orion"
KEY = "key-orion"
PROMPT_TOKENS = 12_345  # the last call's prompt: what the gauge must show

# An agent that runs elsewhere: it may read, plan and write, but it was never granted exec.
EXTERNAL_AGENT = f"""
[[agents]]
name = "{NAME}"
role = "release-notes"
title = "Release notes (an agent built with another framework)"
machine = "velo"
runtime = "external"
provider = "openai"
model = "gpt-4.1-mini"
context_window = 128000
capabilities = ["read", "plan", "write"]
supervisor = "jarvis"
"""


@pytest.fixture
def srv(tmp_path: Path, database_url: str) -> Iterator[Server]:
    with running_server(tmp_path, database_url, fleet_extra=EXTERNAL_AGENT) as server:
        yield server


@pytest.fixture
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


def script(marker: Path) -> Script:
    """The model writes the note (allowed), then tries a command (refused), then reports."""
    return Script(
        [
            Rule(
                key=KEY,
                contains="Write the release note",
                steps=(
                    Step.call("write_note", {"filename": "release.md", "text": "v1.2 ships"}),
                    Step.call("run_command", {"command": f"touch {marker}"}),
                    Step.reply(
                        "Wrote release.md. Running the command was refused: no exec.",
                        prompt_tokens=PROMPT_TOKENS,
                    ),
                ),
            )
        ]
    )


def run_example(
    example: str, srv: Server, fake: FakeProviderServer, workspace: Path
) -> subprocess.CompletedProcess[str]:
    env = srv.env | {
        "MCOS_URL": srv.url,
        "MCOS_TOKEN": srv.agent_token(NAME),
        "OPENAI_BASE_URL": fake.openai_base_url,
        "OPENAI_API_KEY": KEY,
        "AGENT_WORKSPACE": str(workspace),
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLES / example / "agent.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def events(srv: Server, event_type: str) -> list[dict[str, Any]]:
    with srv.client() as operator:
        response = operator.get("/api/v1/events", params={"types": event_type, "limit": 1000})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["events"]
        return [e for e in found if e["type"] == event_type]


@pytest.mark.parametrize("example", ["openai_agents_sdk", "langgraph"])
def test_a_framework_agent_joins_works_a_task_and_is_refused_what_it_lacks(
    example: str, srv: Server, fake: FakeProviderServer, tmp_path: Path
) -> None:
    workspace, marker = tmp_path / "workspace", tmp_path / "command-ran"
    fake.set_script(script(marker))
    with srv.client() as operator:
        created = operator.post(
            "/api/v1/tasks",
            json={"title": "Write the release note", "assignee": NAME, "description": "v1.2"},
        )
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]

    done = run_example(example, srv, fake, workspace)
    assert done.returncode == 0, f"the example failed:\n{done.stdout}\n{done.stderr}"

    # The model was really called, three times, with the agent's own key and both tools.
    calls = [r for r in fake.requests if r.key == KEY]
    assert len(calls) == 3, calls
    assert set(calls[0].tools) == {"write_note", "run_command"}
    assert any("refused" in result for result in calls[2].tool_results), (
        "the model is told the command was refused"
    )

    # The allowed tool ran; the refused one never did.
    assert (workspace / "release.md").read_text() == "v1.2 ships"
    assert not marker.exists(), "a tool Mission Control refused must not run"
    decided = [e["data"] for e in events(srv, "policy.decided") if e["data"].get("agent") == NAME]
    outcomes = {(d["action"]["kind"], d["outcome"]) for d in decided}
    assert ("file.write", "allow") in outcomes, decided
    assert ("shell.exec", "deny") in outcomes, decided
    refusal = next(d for d in decided if d["action"]["kind"] == "shell.exec")
    assert refusal["rule"] == "capability" and str(marker) in refusal["action"]["command"]

    with srv.client() as operator:
        # On the dashboard's data: alive, its gauge the last prompt, its spend.
        agent = operator.get(f"/api/v1/agents/{NAME}").json()
        assert agent["liveness"] == "idle", agent
        assert agent["gauge"]["tokens"] == PROMPT_TOKENS, agent["gauge"]
        assert agent["gauge"]["window"] == 128_000
        usage = operator.get("/api/v1/usage").json()
        mine = next(a for a in usage["agents"] if a["agent"] == NAME)
        assert mine["spent"]["daily_usd"] > 0, mine
        assert mine["spent"]["daily_tokens"] > PROMPT_TOKENS, "every call's tokens, not the last"
        by_model = {m["model"]: m for m in usage["models_today"]}
        assert by_model["gpt-4.1-mini"]["calls"] == 3, usage["models_today"]

        # The task: worked, reported in a comment, waiting in review; accepting it makes it done.
        task = operator.get(f"/api/v1/tasks/{task_id}").json()
        assert task["status"] == "review", task
        comments = [
            e["data"]["body"]
            for e in task["history"]
            if e["type"] == "task.commented" and e["actor"] == f"agent:{NAME}"
        ]
        assert comments and "Wrote release.md" in comments[-1], task["history"]
        accepted = operator.post(f"/api/v1/tasks/{task_id}/move", json={"status": "done"})
        assert accepted.status_code == 200, accepted.text
        assert operator.get(f"/api/v1/tasks/{task_id}").json()["status"] == "done"
