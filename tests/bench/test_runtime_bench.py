"""bench/runtime.py in its tiny mode, so the benchmark cannot rot unseen (it once crashed on an
attribute the runtime had renamed, and nobody saw): every contender does a few tasks one at a
time and two at once against the fake model, our loop through a real ``mcos serve``, then the
idle runner starts with one agent and with five. Figures are checked to be there and the work
complete, never how fast it went."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "runtime.py"
CONTENDERS = {"bare", "bare_same", "agents", "langgraph", "mcos"}


@pytest.mark.timeout(240)  # eight processes start, twice a control plane: slow when loaded
def test_the_runtime_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    figures = tmp_path / "runtime.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for printed in ("one task at a time", "2 loops at once", "idle runner", "targets"):
        assert printed in done.stdout, printed
    for label in ("bare openai SDK", "OpenAI Agents SDK", "LangGraph", "mcos runtime"):
        assert done.stdout.count(label) == 2, f"{label}: a row in each table"
    summary = json.loads(figures.read_text())["summary"]
    for phase, tasks in (("seq", 3), ("concurrent", 2 * 2)):
        assert set(summary[phase]) == CONTENDERS, phase
        for name, row in summary[phase].items():
            assert row["tasks"] == tasks, (phase, name)
            assert row["tasks_per_s"] > 0 and row["p50_ms"] > 0, (phase, name)
        ours = summary[phase]["mcos"]
        assert ours["tasks_not_done"] == 0, "the control plane recorded every task as finished"
        assert ours["worked_twice"] == 0 and ours["left_in_outbox"] == 0, phase
    idle = summary["idle"]
    assert (idle["one_agent"]["agents"], idle["many_agents"]["agents"]) == (1, 5)
    for runner in (idle["one_agent"], idle["many_agents"]):
        assert runner["busy_after_settle"] == 0, "idle agents pick up no work"
        assert runner["rss_idle_mib"] > 0
    assert len(summary["targets"]) == 4  # below the frameworks, 3 ms, 0.9x, idle RSS
