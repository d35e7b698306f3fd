"""The documented examples, run as a user runs them: an OpenAI Agents SDK agent and a LangGraph
agent, each a real process joining a real ``mcos serve`` on the demo's fleet file as Nova (its
slot for an agent you bring) with Nova's token, its model the wire-level fake OpenAI on the
script the README names. Everything is asserted from the control plane's side."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mcos.demo.fleet import EXTERNAL, EXTERNAL_SLOT, EXTERNAL_TASK, demo_fleet_text
from mcos.fleet.loader import template_text
from mcos.runtime.providers.simulated import Script
from mcos.testing.fake_providers import FakeProviderServer, script_path
from tests.fixtures.server import Server, free_port, mcos_env, run_mcos

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FRAMEWORKS = ["openai_agents_sdk", "langgraph"]
KEY = "key-nova"  # any key: the shipped script answers the task whoever asks
PROMPT_TOKENS = 12_345  # the script's last prompt: what the gauge must show
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


ASK_FIRST = '[agents.guard]\nask_first = ["file.write"]\n'
"""Added to Nova's slot: a person approves each of its writes."""


@contextlib.contextmanager
def demo_fleet_served(tmp_path: Path, database_url: str, nova: str = "") -> Iterator[Server]:
    """``mcos serve`` on the demo's own fleet file (the 23 simulated agents and Nova's slot),
    with ``nova`` added to Nova's block."""
    env = mcos_env(tmp_path) | {"MCOS_DATABASE_URL": database_url}
    fleet_dir = tmp_path / "fleet"
    run_mcos("init", str(fleet_dir), env=env)
    text = demo_fleet_text(template_text(), free_port())
    (fleet_dir / "fleet.toml").write_text(text.replace(EXTERNAL_SLOT, EXTERNAL_SLOT + nova))
    server = Server(fleet_dir, database_url, env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def srv(tmp_path: Path, database_url: str) -> Iterator[Server]:
    with demo_fleet_served(tmp_path, database_url) as server:
        yield server


def sqlite(tmp_path: Path) -> str:
    """The examples' other behaviours are the agents', not the storage's: SQLite is enough."""
    return f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"


@pytest.fixture
def sqlite_srv(tmp_path: Path) -> Iterator[Server]:
    with demo_fleet_served(tmp_path, sqlite(tmp_path)) as server:
        yield server


@pytest.fixture
def fake() -> Iterator[FakeProviderServer]:
    """The fake OpenAI with the script the examples' README runs it with."""
    with FakeProviderServer(Script.from_file(script_path("examples"))) as server:
        yield server


def start_example(
    example: str, srv: Server, fake: FakeProviderServer, workspace: Path, *args: str
) -> subprocess.Popen[str]:
    """The example as the README runs it: its settings in the environment, Nova's token."""
    env = srv.env | {
        "MCOS_URL": srv.url,
        "MCOS_TOKEN": srv.agent_token(EXTERNAL),
        "OPENAI_BASE_URL": fake.openai_base_url,
        "OPENAI_API_KEY": KEY,
        "AGENT_WORKSPACE": str(workspace),
    }
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / example / "agent.py"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> str:
    """What the example printed, once it exited 0."""
    try:
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, f"the example failed:\n{output}"
    return output


def give_nova_its_task(srv: Server) -> int:
    with srv.client() as operator:  # as the demo's opening scene puts it on Nova's card
        body = {"title": EXTERNAL_TASK, "assignee": EXTERNAL}
        created = operator.post("/api/v1/tasks", json=body)
        assert created.status_code == 201, created.text
        task_id: int = created.json()["id"]
        return task_id


def recorded_since(recorded: list[dict[str, Any]], start: str) -> list[dict[str, Any]]:
    """The ``usage.recorded`` events at or after ``start``: a period's start, as the response
    that shows the period's spend gives it. "Today" is the fleet's day (Africa/Johannesburg):
    in a run at 22:00 UTC, Nova's calls may be recorded before its midnight and read after."""
    return [e for e in recorded if datetime.fromisoformat(e["ts"]) >= datetime.fromisoformat(start)]


def cost_since(recorded: list[dict[str, Any]], start: str) -> float:
    return sum(e["data"]["cost_usd"] for e in recorded_since(recorded, start))


def event_data(srv: Server, event_type: str) -> list[dict[str, Any]]:
    with srv.client() as operator:
        response = operator.get("/api/v1/events", params={"types": event_type, "limit": 1000})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["events"]
        return [e["data"] for e in found if e["type"] == event_type]


@pytest.mark.parametrize("example", FRAMEWORKS)
def test_a_framework_agent_joins_works_a_task_and_is_refused_what_it_lacks(
    example: str, srv: Server, fake: FakeProviderServer, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    task_id = give_nova_its_task(srv)
    assert "1 task(s) taken to review" in finished(start_example(example, srv, fake, workspace))

    # The model was really called, three times, with the agent's own key and both tools.
    calls = [r for r in fake.requests if r.key == KEY]
    assert len(calls) == 3, calls
    assert set(calls[0].tools) == {"write_note", "run_command"}
    assert any("refused" in result for result in calls[2].tool_results), (
        "the model is told the command was refused"
    )

    # The allowed tool ran; the refused one never did.
    assert (workspace / "release.md").read_text().startswith("Today: the fleet's day")
    assert not (workspace / "ran-a-command.txt").exists(), "a refused tool must not run"
    decided = [d for d in event_data(srv, "policy.decided") if d.get("agent") == EXTERNAL]
    outcomes = {(d["action"]["kind"], d["outcome"]) for d in decided}
    assert ("file.write", "allow") in outcomes, decided
    assert ("shell.exec", "deny") in outcomes, decided
    refusal = next(d for d in decided if d["action"]["kind"] == "shell.exec")
    assert refusal["rule"] == "capability", refusal
    assert refusal["action"]["command"] == "touch ran-a-command.txt"

    with srv.client() as operator:
        # Its three calls, each priced and dated when the control plane recorded it.
        recorded = operator.get(
            "/api/v1/events", params={"types": "usage.recorded", "subject": f"agent:{EXTERNAL}"}
        ).json()["events"]
        assert len(recorded) == 3 and all(e["data"]["cost_usd"] > 0 for e in recorded), recorded
        # On the dashboard: Nova's card with its gauge and spend, the demo still marked simulated.
        snapshot = operator.get("/api/v1/dashboard/snapshot").json()
        assert snapshot["fleet"]["simulated"] is True, "Nova runs elsewhere; the demo's 23 do not"
        card = next(a for a in snapshot["agents"] if a["name"] == EXTERNAL)
        assert (card["liveness"], card["gauge"]["tokens"]) == ("idle", PROMPT_TOKENS), card
        day, month = snapshot["usage"]["day_starts"], snapshot["usage"]["month_starts"]
        spent = (cost_since(recorded, day), cost_since(recorded, month))
        assert (card["spend"]["today_usd"], card["spend"]["month_usd"]) == pytest.approx(spent)
        # And in the API: alive, its gauge the last prompt, its spend.
        agent = operator.get(f"/api/v1/agents/{EXTERNAL}").json()
        assert agent["liveness"] == "idle", agent
        assert agent["gauge"]["tokens"] == PROMPT_TOKENS, agent["gauge"]
        assert agent["gauge"]["window"] == 128_000
        usage = operator.get("/api/v1/usage").json()
        day = usage["day_starts"]
        mine = next(a for a in usage["agents"] if a["agent"] == EXTERNAL)
        assert mine["spent"]["daily_usd"] == pytest.approx(cost_since(recorded, day)), mine
        today = recorded_since(recorded, day)
        tokens = sum(e["data"][k] for e in today for k in TOKENS)
        assert mine["spent"]["daily_tokens"] == tokens, "every call's tokens, not the last"
        calls = sum(m["calls"] for m in usage["models_today"] if m["model"] == "gpt-4.1-mini")
        assert calls == len(today), usage["models_today"]

        # The task: worked, reported in a comment, waiting in review; accepting it makes it done.
        task = operator.get(f"/api/v1/tasks/{task_id}").json()
        assert task["status"] == "review", task
        comments = [
            e["data"]["body"]
            for e in task["history"]
            if e["type"] == "task.commented" and e["actor"] == f"agent:{EXTERNAL}"
        ]
        assert comments and "Wrote release.md" in comments[-1], task["history"]
        accepted = operator.post(f"/api/v1/tasks/{task_id}/move", json={"status": "done"})
        assert accepted.status_code == 200, accepted.text
        assert operator.get(f"/api/v1/tasks/{task_id}").json()["status"] == "done"


@pytest.mark.parametrize("example", FRAMEWORKS)
def test_a_tool_that_needs_a_person_waits_in_the_hook_until_approved(
    example: str, tmp_path: Path, fake: FakeProviderServer
) -> None:
    workspace = tmp_path / "workspace"
    with demo_fleet_served(tmp_path, sqlite(tmp_path), nova=ASK_FIRST) as srv:
        give_nova_its_task(srv)
        process = start_example(example, srv, fake, workspace)
        try:
            with srv.client() as operator:
                deadline = time.monotonic() + 60
                pending: list[dict[str, Any]] = []
                while not pending and time.monotonic() < deadline and process.poll() is None:
                    approvals = operator.get("/api/v1/approvals", params={"status": "pending"})
                    pending = [a for a in approvals.json()["approvals"] if a["agent"] == EXTERNAL]
                    time.sleep(0.1)
                assert pending, "Nova's write waits for a person"
                [approval] = pending
                assert approval["subject"]["kind"] == "file.write"
                assert not (workspace / "release.md").exists(), "nothing is written before a yes"
                said = operator.post(f"/api/v1/approvals/{approval['id']}/approve", json={})
                assert said.status_code == 200, said.text
            finished(process)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        # Approved, the hook let the tool run, and the approval was carried out exactly once.
        assert (workspace / "release.md").read_text().startswith("Today: the fleet's day")
        with srv.client() as operator:
            now = operator.get(f"/api/v1/approvals/{approval['id']}").json()
        assert now["status"] == "applied", now
        decided = [d for d in event_data(srv, "policy.decided") if d.get("agent") == EXTERNAL]
        assert [d["outcome"] for d in decided if d["action"]["kind"] == "file.write"] == [
            "needs_approval",
            "allow",
        ]


@pytest.mark.parametrize("example", FRAMEWORKS)
def test_a_framework_agent_over_its_budget_makes_no_more_model_calls(
    example: str, tmp_path: Path, fake: FakeProviderServer
) -> None:
    tiny = "[agents.budget]\ndaily_tokens = 100\n"  # less than the first call's prompt
    with demo_fleet_served(tmp_path, sqlite(tmp_path), nova=tiny) as srv:
        task_id = give_nova_its_task(srv)
        finished(start_example(example, srv, fake, tmp_path / "workspace"))
        # The first call spent the day's tokens: the next was asked for, refused, never made.
        assert len([r for r in fake.requests if r.key == KEY]) == 1
        with srv.client() as operator:
            task = operator.get(f"/api/v1/tasks/{task_id}").json()
            agent = operator.get(f"/api/v1/agents/{EXTERNAL}").json()
        assert task["status"] == "blocked", task
        [blocked] = [e for e in task["history"] if e["data"].get("to") == "blocked"]
        assert "daily tokens budget exceeded" in blocked["data"]["reason"], blocked
        assert (agent["liveness"], agent["paused"]) == ("suspended", True), agent


@pytest.mark.parametrize("example", FRAMEWORKS)
def test_with_watch_a_framework_agent_stays_and_takes_work_as_it_comes(
    example: str, sqlite_srv: Server, fake: FakeProviderServer, tmp_path: Path
) -> None:
    srv = sqlite_srv
    process = start_example(example, srv, fake, tmp_path / "workspace", "--watch", "0.5")
    try:
        with srv.client() as operator:

            def nova() -> dict[str, Any]:
                agent: dict[str, Any] = operator.get(f"/api/v1/agents/{EXTERNAL}").json()
                return agent

            deadline = time.monotonic() + 60
            while nova()["last_heartbeat_at"] is None and time.monotonic() < deadline:
                assert process.poll() is None, process.communicate()[0]
                time.sleep(0.1)
            first = nova()["last_heartbeat_at"]
            assert first is not None, "Nova joins with a heartbeat"
            task_id = give_nova_its_task(srv)  # given after it started: it waits for work
            status = "assigned"
            while status != "review" and time.monotonic() < deadline:
                assert process.poll() is None, process.communicate()[0]
                status = operator.get(f"/api/v1/tasks/{task_id}").json()["status"]
                time.sleep(0.1)
            assert status == "review", "the task given later is taken to review"
            while nova()["last_heartbeat_at"] == first and time.monotonic() < deadline:
                time.sleep(0.1)
            assert nova()["liveness"] == "idle", "it stays, heartbeating, between tasks"
            assert process.poll() is None, "--watch does not exit once the work is done"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in output, output
