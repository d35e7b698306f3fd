"""A LangGraph agent in a Mission Control fleet, through ``mcos.client``.

The ReAct graph from LangGraph's own parts (a model node, ``tools_condition``, a ``ToolNode``)
with one node added in front of the ``ToolNode``, ``ask``, which asks Mission Control about each
tool call before it runs: a refused call never reaches the ``ToolNode`` (its body never runs),
and the model gets the refusal as that call's result; an action that needs a person waits in
``ask`` for their decision. Around the graph, the agent does what a native agent does:

- heartbeats with its context gauge (the latest prompt's tokens) and the task it is on;
- takes its assigned tasks, one by one: ``in_progress``, the graph's run, a comment with the
  result, then ``review``, where an operator or reviewer accepts it to ``done``;
- asks before every model call whether its budget allows it, and reports the call's usage
  (input, cached and output tokens, from the reply's ``usage_metadata``) right after it, both in
  the model node; refused (paused, over budget), the task is moved to ``blocked`` with the reason.

Settings from the environment: ``MCOS_URL``, ``MCOS_TOKEN`` (the agent's own token:
``mcos agents token NAME``), ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, and optionally
``OPENAI_MODEL`` (default ``gpt-4.1-mini``) and ``AGENT_WORKSPACE`` (default ``./workspace``).
Run: ``python examples/langgraph/agent.py`` (takes the tasks waiting, then exits), or with
``--watch 30`` to stay in the fleet.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, Send

from mcos.client import ApiError, AsyncClient, Unreachable

INSTRUCTIONS = (
    "You are an agent in a Mission Control fleet. Do the task you are given with your tools, "
    "then answer with a short report of what you did. A tool call Mission Control refuses "
    "comes back as a refusal: do not retry it, say so in your report."
)


def workspace() -> Path:
    return Path(os.environ.get("AGENT_WORKSPACE", "workspace")).resolve()


def _inside(filename: str) -> Path:
    path = (workspace() / filename).resolve()
    if not path.is_relative_to(workspace()):
        raise ValueError(f"{filename!r} is outside the workspace")
    return path


# --- the tools, and the action each one is, as Mission Control's policy sees it ---------------


@tool
def write_note(filename: str, text: str) -> str:
    """Write a text file in the agent's workspace.

    Args:
        filename: The file's name, relative to the workspace.
        text: What to write.
    """
    path = _inside(filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return f"wrote {len(text)} characters to {path.name}"


@tool
def run_command(command: str) -> str:
    """Run a command (no shell) in the agent's workspace and return its output.

    Args:
        command: The command line.
    """
    done = subprocess.run(
        shlex.split(command), cwd=workspace(), capture_output=True, text=True, timeout=60
    )
    return f"exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"


TOOLS = [write_note, run_command]


def action_for(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The exact action a tool call would do: the kind and fields ``POST /api/v1/actions``
    decides on (``file.write`` needs ``write``, ``shell.exec`` needs ``exec``)."""
    if name == "write_note":
        path = _inside(str(arguments.get("filename", "")))
        return {"kind": "file.write", "paths": [str(path)], "files_touched": 1}
    if name == "run_command":
        return {"kind": "shell.exec", "command": str(arguments.get("command", "")),
                "paths": [str(workspace())]}  # fmt: skip
    raise ValueError(f"no action is known for tool {name!r}")


# --- the budget before every model call -----------------------------------------------------------


class OutOfBudget(Exception):
    """Mission Control refused the next model call: paused, over budget, or its key cooling."""


async def check_budget(mc: AsyncClient) -> None:
    """Asked before every model call, as a native agent asks; raises :class:`OutOfBudget`."""
    try:
        await mc.request("POST", f"/api/v1/agents/{await mc.name()}/budget/check", {})
    except ApiError as exc:
        raise OutOfBudget(exc.message) from None


# --- the graph ------------------------------------------------------------------------------------


class AgentState(MessagesState):
    task_id: int


class Fleetmate:
    """The graph's nodes, with the client they report through and the gauge they keep."""

    def __init__(self, mc: AsyncClient, model_name: str) -> None:
        self.mc = mc
        self.model_name = model_name
        self.model = ChatOpenAI(model=model_name).bind_tools(TOOLS)  # OPENAI_* from the env
        self.context_tokens: int | None = None
        """The latest prompt's size: every heartbeat carries it, or the gauge would go blank."""

    async def call_model(self, state: AgentState) -> dict[str, Any]:
        await check_budget(self.mc)  # raised, the run stops before the call
        started = time.monotonic()
        reply = await self.model.ainvoke([("system", INSTRUCTIONS), *state["messages"]])
        latency_ms = round(1000 * (time.monotonic() - started))
        if isinstance(reply, AIMessage) and reply.usage_metadata:
            usage = reply.usage_metadata
            cached = (usage.get("input_token_details") or {}).get("cache_read", 0)
            await self.mc.report_usage(
                self.model_name,
                input_tokens=usage["input_tokens"] - cached,  # mcos counts cached tokens apart
                output_tokens=usage["output_tokens"],
                cache_read_tokens=cached,
                latency_ms=latency_ms,
                task_id=state["task_id"],
            )
            self.context_tokens = usage["input_tokens"]  # the gauge: this prompt, not a total
            await self.mc.heartbeat(
                status="working", context_tokens=self.context_tokens, current_task=state["task_id"]
            )
        return {"messages": [reply]}

    async def ask(self, state: AgentState) -> Command[Any]:
        """Ask Mission Control about each tool call; only the allowed go on to the ToolNode."""
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        allowed: list[Send] = []
        refused: list[AnyMessage] = []
        for call in last.tool_calls:
            why = await self.refusal(call["name"], call["args"], state["task_id"])
            if why is None:
                allowed.append(Send("tools", [call]))
            else:
                refused.append(
                    ToolMessage(why, tool_call_id=call["id"], name=call["name"], status="error")
                )
        return Command(update={"messages": refused}, goto=allowed or "agent")

    async def refusal(self, name: str, arguments: dict[str, Any], task_id: int) -> str | None:
        """``None`` when Mission Control allows the call, else why not."""
        try:
            action = action_for(name, arguments)
            decision = await self.mc.request_approval(
                reason=f"{name} for task #{task_id}", **action
            )
        except ValueError as exc:
            return f"not run: {exc}"
        except ApiError as exc:  # a request the control plane refused (a policy refusal is a deny)
            return f"Mission Control refused {name}: {exc.message}"
        except Unreachable:  # not asked is not allowed: the tool does not run
            return f"not run: Mission Control could not be asked about {name}"
        if decision.outcome != "allow":
            return f"Mission Control refused {name}: {decision.reason}"
        return None

    def graph(self) -> Any:
        graph = StateGraph(AgentState)
        graph.add_node("agent", self.call_model)
        graph.add_node("ask", self.ask, destinations=("tools", "agent"))
        graph.add_node("tools", ToolNode(TOOLS))
        graph.add_edge(START, "agent")
        # tools_condition's "tools" goes to ask first: nothing reaches the ToolNode unasked.
        graph.add_conditional_edges("agent", tools_condition, {"tools": "ask", END: END})
        graph.add_edge("tools", "agent")
        return graph.compile()


# --- the agent's round: take each assigned task to review ---------------------------------------


async def work_on(mc: AsyncClient, mate: Fleetmate, app: Any, task_id: int) -> None:
    task = await mc.task(task_id)
    await mc.move(task.id, "in_progress", reason="picked up by the LangGraph agent")
    await mc.heartbeat(
        status="working", context_tokens=mate.context_tokens, current_task=task.id, note=task.title
    )
    prompt = f"Task #{task.id}: {task.title}\n\n{task.description}".strip()
    try:
        state = await app.ainvoke(
            {"messages": [("user", prompt)], "task_id": task.id}, {"recursion_limit": 25}
        )
    except OutOfBudget as exc:  # visibly stuck, with the reason on the card
        await mc.move(task.id, "blocked", reason=f"no model call allowed: {exc}")
        return
    await mc.comment(task.id, str(state["messages"][-1].content))
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
    workspace().mkdir(parents=True, exist_ok=True)
    async with AsyncClient(os.environ["MCOS_URL"], os.environ["MCOS_TOKEN"]) as mc:
        mate = Fleetmate(mc, os.environ.get("OPENAI_MODEL", "gpt-4.1-mini"))
        app = mate.graph()
        await mc.heartbeat(status="idle", note="LangGraph agent starting")
        taken = 0
        while True:
            for task in await mc.my_tasks(status="assigned"):
                await work_on(mc, mate, app, task.id)
                taken += 1
            await mc.heartbeat(
                status="idle",
                context_tokens=mate.context_tokens,
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
