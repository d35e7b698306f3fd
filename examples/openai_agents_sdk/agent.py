"""An OpenAI Agents SDK agent in a Mission Control fleet, through ``mcos.client``.

It does what a native agent does, with the SDK's own hooks:

- heartbeats with its context gauge (the latest prompt's tokens) and the task it is on;
- takes its assigned tasks, one by one: ``in_progress``, the model's run, a comment with the
  result, then ``review``, where an operator or reviewer accepts it to ``done``;
- asks Mission Control before each tool runs, in a **tool input guardrail**: refused, the tool
  body never runs and the model is told why; waiting on a person, the guardrail waits;
- asks before every model call whether its budget allows it (``RunHooks.on_llm_start``), and
  reports the call's usage (input, cached and output tokens) from ``RunHooks.on_llm_end``;
  refused (paused, over budget), the task is moved to ``blocked`` with the reason.

Settings from the environment: ``MCOS_URL``, ``MCOS_TOKEN`` (the agent's own token:
``mcos agents token NAME``), ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, and optionally
``OPENAI_MODEL`` (default ``gpt-4.1-mini``) and ``AGENT_WORKSPACE`` (default ``./workspace``).
The model is called through Chat Completions, which OpenAI and every OpenAI-compatible server
(Ollama, vLLM, LM Studio) speak. Run: ``python examples/openai_agents_sdk/agent.py``
(takes the tasks waiting, then exits), or with ``--watch 30`` to stay in the fleet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import (
    Agent,
    ModelResponse,
    OpenAIChatCompletionsModel,
    RunContextWrapper,
    RunHooks,
    Runner,
    ToolGuardrailFunctionOutput,
    ToolInputGuardrailData,
    function_tool,
    set_tracing_disabled,
    tool_input_guardrail,
)
from openai import AsyncOpenAI

from mcos.client import ApiError, AsyncClient, Unreachable

INSTRUCTIONS = (
    "You are an agent in a Mission Control fleet. Do the task you are given with your tools, "
    "then answer with a short report of what you did. A tool call Mission Control refuses "
    "comes back as a refusal: do not retry it, say so in your report."
)


@dataclass
class Work:
    """The run's context: the client, the task being worked, and the timing of the model call."""

    mc: AsyncClient
    task_id: int
    workspace: Path
    started: float = field(default_factory=time.monotonic)


# --- the tools, and the action each one is, as Mission Control's policy sees it ---------------


def _inside(workspace: Path, filename: str) -> Path:
    path = (workspace / filename).resolve()
    if not path.is_relative_to(workspace):
        raise ValueError(f"{filename!r} is outside the workspace")
    return path


def action_for(tool: str, arguments: dict[str, Any], workspace: Path) -> dict[str, Any]:
    """The exact action a tool call would do: the kind and fields ``POST /api/v1/actions``
    decides on (``file.write`` needs ``write``, ``shell.exec`` needs ``exec``)."""
    if tool == "write_note":
        path = _inside(workspace, str(arguments.get("filename", "")))
        return {"kind": "file.write", "paths": [str(path)], "files_touched": 1}
    if tool == "run_command":
        return {"kind": "shell.exec", "command": str(arguments.get("command", "")),
                "paths": [str(workspace)]}  # fmt: skip
    raise ValueError(f"no action is known for tool {tool!r}")


@tool_input_guardrail
async def ask_mission_control(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
    """Before any tool runs: allowed, it runs; refused, its body never runs and the model is
    told why. An action that needs a person waits here for their decision."""
    work: Work = data.context.context
    tool = data.context.tool_name
    try:
        action = action_for(tool, json.loads(data.context.tool_arguments or "{}"), work.workspace)
    except ValueError as exc:
        return ToolGuardrailFunctionOutput.reject_content(f"not run: {exc}")
    try:
        decision = await work.mc.request_approval(
            reason=f"{tool} for task #{work.task_id}", **action
        )
    except ApiError as exc:  # a request the control plane refused (a policy refusal is a deny)
        return ToolGuardrailFunctionOutput.reject_content(
            f"Mission Control refused {tool}: {exc.message}"
        )
    except Unreachable:  # not asked is not allowed: the tool does not run
        return ToolGuardrailFunctionOutput.reject_content(
            f"not run: Mission Control could not be asked about {tool}"
        )
    if decision.outcome != "allow":
        return ToolGuardrailFunctionOutput.reject_content(
            f"Mission Control refused {tool}: {decision.reason}"
        )
    return ToolGuardrailFunctionOutput.allow()


def _workspace() -> Path:
    return Path(os.environ.get("AGENT_WORKSPACE", "workspace")).resolve()


@function_tool(tool_input_guardrails=[ask_mission_control])
def write_note(filename: str, text: str) -> str:
    """Write a text file in the agent's workspace.

    Args:
        filename: The file's name, relative to the workspace.
        text: What to write.
    """
    path = _inside(_workspace(), filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return f"wrote {len(text)} characters to {path.name}"


@function_tool(tool_input_guardrails=[ask_mission_control])
def run_command(command: str) -> str:
    """Run a command (no shell) in the agent's workspace and return its output.

    Args:
        command: The command line.
    """
    done = subprocess.run(
        shlex.split(command), cwd=_workspace(), capture_output=True, text=True, timeout=60
    )
    return f"exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"


# --- the budget before every model call; usage and the gauge after it ---------------------------


class OutOfBudget(Exception):
    """Mission Control refused the next model call: paused, over budget, or its key cooling."""


async def check_budget(mc: AsyncClient) -> None:
    """Asked before every model call, as a native agent asks; raises :class:`OutOfBudget`."""
    try:
        await mc.request("POST", f"/api/v1/agents/{await mc.name()}/budget/check", {})
    except ApiError as exc:
        raise OutOfBudget(exc.message) from None


class MissionControlHooks(RunHooks[Work]):
    """Reports each model call's usage and the context gauge it implies."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.context_tokens: int | None = None
        """The latest prompt's size: every heartbeat carries it, or the gauge would go blank."""

    async def on_llm_start(
        self, context: RunContextWrapper[Work], agent: Agent[Work], *args: Any
    ) -> None:
        await check_budget(context.context.mc)  # raised, the run stops before the call
        context.context.started = time.monotonic()

    async def on_llm_end(
        self, context: RunContextWrapper[Work], agent: Agent[Work], response: ModelResponse
    ) -> None:
        work, usage = context.context, response.usage
        cached = usage.input_tokens_details.cached_tokens or 0
        await work.mc.report_usage(
            self.model,
            input_tokens=usage.input_tokens - cached,  # mcos counts cached tokens apart
            output_tokens=usage.output_tokens,
            cache_read_tokens=cached,
            latency_ms=round(1000 * (time.monotonic() - work.started)),
            task_id=work.task_id,
        )
        # The gauge is the latest prompt's size, not the run's total.
        self.context_tokens = usage.input_tokens
        await work.mc.heartbeat(
            status="working", context_tokens=self.context_tokens, current_task=work.task_id
        )


# --- the agent's round: take each assigned task to review ---------------------------------------


def build_agent(model: str) -> Agent[Work]:
    client = AsyncOpenAI()  # OPENAI_BASE_URL and OPENAI_API_KEY from the environment
    return Agent[Work](
        name="mission-control-agent",
        instructions=INSTRUCTIONS,
        model=OpenAIChatCompletionsModel(model=model, openai_client=client),
        tools=[write_note, run_command],
    )


async def work_on(
    mc: AsyncClient, agent: Agent[Work], hooks: MissionControlHooks, task_id: int
) -> None:
    task = await mc.task(task_id)
    await mc.move(task.id, "in_progress", reason="picked up by the OpenAI Agents SDK agent")
    await mc.heartbeat(
        status="working",
        context_tokens=hooks.context_tokens,
        current_task=task.id,
        note=task.title,
    )
    work = Work(mc, task.id, _workspace())
    prompt = f"Task #{task.id}: {task.title}\n\n{task.description}".strip()
    try:
        result = await Runner.run(agent, prompt, context=work, hooks=hooks, max_turns=10)
    except OutOfBudget as exc:  # visibly stuck, with the reason on the card
        await mc.move(task.id, "blocked", reason=f"no model call allowed: {exc}")
        return
    await mc.comment(task.id, str(result.final_output))
    # review, not done: an agent never accepts its own work (domain/kanban.py, services/tasks.py)
    await mc.move(task.id, "review", reason="done; waiting for acceptance")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--watch",
        type=float,
        metavar="SECONDS",
        help="stay in the fleet: heartbeat every SECONDS and take new tasks as they come "
        "(default: take the tasks waiting, then exit)",
    )
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    watch = arguments(argv).watch
    set_tracing_disabled(True)  # traces would go to OpenAI's own dashboard, not Mission Control
    model = os.environ.get("OPENAI_MODEL", "gpt-4.1-mini")
    _workspace().mkdir(parents=True, exist_ok=True)
    agent, hooks = build_agent(model), MissionControlHooks(model)
    async with AsyncClient(os.environ["MCOS_URL"], os.environ["MCOS_TOKEN"]) as mc:
        await mc.heartbeat(status="idle", note="OpenAI Agents SDK agent starting")
        taken = 0
        while True:
            for task in await mc.my_tasks(status="assigned"):
                await work_on(mc, agent, hooks, task.id)
                taken += 1
            await mc.heartbeat(
                status="idle",
                context_tokens=hooks.context_tokens,
                note=f"{taken} task(s) taken to review",
            )
            if watch is None:
                break
            await asyncio.sleep(watch)
    print(f"{taken} task(s) taken to review")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
