"""What the agent-runtime benchmark's processes share: the task, the fake's script, the fleets,
and the measuring window.

Every contender does the same task: the model is asked to write a file; its first reply is one
``write_file`` call, the client runs it, and its second reply is the final text. The fake
provider answers from one script with a rule per API key, so each contender (and each of our
agents) gets the same two replies.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from _machine import machine_busy, process_cpu_seconds

MODEL = "gpt-4o-mini"
"""Priced by the maintained table, so our budget check and usage report do real arithmetic."""
TOOL_ARGUMENTS = {"path": "out.txt", "content": "bench"}
FINAL_TEXT = "Wrote out.txt."
FRAMEWORK_KEYS = {
    "bare": "key-bare",
    "bare_same": "key-bare-same",
    "langgraph": "key-langgraph",
    "agents": "key-agents",
}
SYSTEM_PROMPT = "You are a careful assistant. Use your tools to do the work, then say what you did."


def task_text(number: int) -> str:
    return f"Task #{number}: write the word 'bench' to out.txt."


def agent_name(index: int, prefix: str = "bench") -> str:
    return f"{prefix}-{index:04d}"


def agent_key(name: str) -> str:
    return f"key-{name}"


def credential(name: str) -> str:
    return "BENCH_" + name.upper().replace("-", "_") + "_KEY"


def script(agent_names: list[str]) -> dict[str, Any]:
    """One rule per key: reply 1 is the tool call, reply 2 the final text."""
    steps = [
        {"tool_calls": [{"name": "write_file", "arguments": TOOL_ARGUMENTS}]},
        {"text": FINAL_TEXT},
    ]
    keys = [*FRAMEWORK_KEYS.values(), *(agent_key(n) for n in agent_names)]
    return {"rules": [{"key": key, "steps": steps} for key in keys]}


def write_script(path: Path, agent_names: list[str]) -> Path:
    path.write_text(json.dumps(script(agent_names)))
    return path


def fleet_toml(
    names: list[str], base_url: str, *, heartbeat_seconds: int = 3600, guarded: bool = True
) -> str:
    """A fleet of ``names`` on the OpenAI API at ``base_url``, each with read and write.

    Budgets are large (the budget check still runs; its lease is a tenth of what is left), and
    ``guarded`` adds protected paths and a files-per-change limit so those policy rules run too.
    """
    lines = [
        "[fleet]",
        'name = "Runtime bench"',
        'timezone = "UTC"',
        "",
        "[liveness]",
        f"heartbeat_seconds = {heartbeat_seconds}",
        f"stalled_after_seconds = {heartbeat_seconds * 2}",
        f"offline_after_seconds = {heartbeat_seconds * 4}",
        "",
        "[[machines]]",
        'name = "bench"',
        "",
    ]
    for severity, confirm in (("P0", '["human"]'), ("P1", '["human"]'), ("P2", '["human"]')):
        lines += [f"[escalation.{severity}]", f"confirm_by = {confirm}", 'reach = "fleet"', ""]
    lines += ["[escalation.P3]", "confirm_by = []", 'reach = "self"', ""]
    for name in names:
        lines += [
            "[[agents]]",
            f'name = "{name}"',
            'role = "bench"',
            'machine = "bench"',
            'provider = "openai"',
            f'model = "{MODEL}"',
            f'base_url = "{base_url}"',
            "context_window = 128000",
            f'credential = "{credential(name)}"',
            'capabilities = ["read", "write"]',
            "[agents.budget]",
            "daily_usd = 1000.0",
            "monthly_usd = 10000.0",
            "daily_tokens = 1000000000",
            "monthly_tokens = 10000000000",
        ]
        if guarded:
            lines += [
                "[agents.guard]",
                'protected_paths = ["/srv/**", "/etc/**"]',
                "max_files_per_change = 20",
            ]
        lines.append("")
    return "\n".join(lines)


class Window:
    """Wall time and the CPU of this process, the fake and the control plane over one phase."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.started = False

    def start(self) -> None:
        self.started = True
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.servers = {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
        self.busy = machine_busy()

    def stop(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.wall
        busy, total = machine_busy()
        share = (busy - self.busy[0]) / max(1, total - self.busy[1])
        return {
            "wall_s": elapsed,
            "client_cpu_s": time.process_time() - self.cpu,
            "server_cpu_s": {
                name: process_cpu_seconds(pid) - self.servers[name]
                for name, pid in self.pids.items()
            },
            "box_busy_pct": round(100 * share * (os.cpu_count() or 1), 1),
        }
