"""One contender of the agent-runtime benchmark, in its own process.

    python bench/_runtime_worker.py CONFIG_JSON

``CONFIG_JSON`` names the contender (``bare``, ``bare_same``, ``agents``, ``langgraph``,
``mcos``, or ``idle``)
and where the fake provider and the control plane are. Each process imports only its own
framework, so its memory and garbage collector are its own. It prints ``ready`` once set up,
then answers each JSON command on stdin with one JSON line on stdout:
``{"cmd": "run", "concurrency": C, "tasks_each": K}`` runs C loops of K tasks each and answers
with every task's latency and the CPU the contender, the fake and the control plane used.

With ``MCOS_BENCH_PROFILE=DIR`` in its environment, the ``mcos`` contender runs each phase under
cProfile (the event loop's thread only) and writes ``DIR/mcos-c<concurrency>-<n>.pstats``: read
them for proportions, as profiling slows call-heavy code about twofold. ``bench/runtime.py``
then also runs the control plane under ``_profile_server.py``, its profiles in ``DIR/server``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _machine import memory_of
from _runtime_common import FINAL_TEXT, MODEL, SYSTEM_PROMPT, Window, task_text

TaskFn = Callable[[int], Awaitable[None]]


def check_final(text: object) -> None:
    if not (isinstance(text, str) and text.endswith(FINAL_TEXT)):
        raise RuntimeError(f"unexpected final reply: {text!r}")


async def write_file(path: str, content: str) -> str:
    """The frameworks' tool: the same small write as our built-in ``write_file``.

    Relative to the working directory, which the worker sets to a folder of its own.
    """
    Path(path).write_text(content, encoding="utf-8")  # noqa: ASYNC240 (inline, as ours does)
    return f"wrote {len(content)} characters to {path}"


# --- the framework contenders --------------------------------------------------------------


WRITE_FILE_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "write_file",
        "description": "Write a file in your workspace (replaces it).",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
}


def bare(
    base_url: str,
    key: str,
    system: str = SYSTEM_PROMPT,
    tools: Any = (WRITE_FILE_TOOL,),
    text: Callable[[int], str] = task_text,
) -> TaskFn:
    """Two ``chat.completions.create`` calls with the tool's result in between."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0)
    tools = list(tools)

    async def run(number: int) -> None:
        messages: list[Any] = [
            {"role": "system", "content": system},
            {"role": "user", "content": text(number)},
        ]
        first = await client.chat.completions.create(
            model=MODEL, messages=messages, tools=tools, max_tokens=4096
        )
        message = first.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls or ():
            arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
            result = await write_file(**arguments)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        second = await client.chat.completions.create(
            model=MODEL, messages=messages, tools=tools, max_tokens=4096
        )
        check_final(second.choices[0].message.content)

    return run


def bare_same_request(base_url: str, key: str, fleet_dir: Path) -> TaskFn:
    """The bare loop sending what our agent sends: its system prompt and its six tools."""
    from types import SimpleNamespace

    from mcos.fleet.loader import load_fleet
    from mcos.runtime.agent import AgentLoop
    from mcos.runtime.providers.openai import to_tools
    from mcos.runtime.tools import offered_tools
    from mcos.runtime.workspace import Workspace

    fleet = load_fleet(fleet_dir)
    agent = fleet.agents[0]
    loop = SimpleNamespace(
        workspace=Workspace.open(fleet_dir / "workspaces", fleet, agent),
        notes="",
        soul=None,
        fleet=fleet,
    )
    loop.today = lambda: AgentLoop.today(loop)  # type: ignore[arg-type]
    system = AgentLoop.system_prompt(loop)  # type: ignore[arg-type]
    tools = to_tools([tool.spec for tool in offered_tools(agent)])

    def text(number: int) -> str:  # as AgentLoop._task_text words it
        return f"Task #{number}: {task_text(number)}\nPriority: normal\nFrom: operator:operator"

    return bare(base_url, key, system, tools, text)


def langgraph(base_url: str, key: str) -> TaskFn:
    """The ReAct graph built from LangGraph's parts: a model node, a ToolNode, tools_condition.

    ``langgraph.prebuilt.create_react_agent`` builds the same graph but is deprecated in
    LangGraph 1.x for ``langchain.agents.create_agent``, which the bench group does not install.
    """
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    tools = [tool(write_file)]
    model = ChatOpenAI(
        model=MODEL, base_url=base_url, api_key=key, max_retries=0, max_tokens=4096
    ).bind_tools(tools)

    async def call_model(state: MessagesState) -> dict[str, Any]:
        reply = await model.ainvoke([("system", SYSTEM_PROMPT), *state["messages"]])
        return {"messages": [reply]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    app = graph.compile()

    async def run(number: int) -> None:
        state = await app.ainvoke({"messages": [("user", task_text(number))]})
        check_final(state["messages"][-1].content)

    return run


def openai_agents(base_url: str, key: str) -> TaskFn:
    """The OpenAI Agents SDK on Chat Completions, tracing off."""
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        Runner,
        function_tool,
        set_tracing_disabled,
    )
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    client = AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0)
    agent: Agent[Any] = Agent(
        name="bench",
        instructions=SYSTEM_PROMPT,
        model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client),
        tools=[function_tool(write_file)],
    )

    async def run(number: int) -> None:
        result = await Runner.run(agent, task_text(number))
        check_final(result.final_output)

    return run


async def framework_phase(
    task: TaskFn, pids: dict[str, int], concurrency: int, tasks_each: int
) -> dict[str, Any]:
    latencies: list[float] = []
    numbers = itertools.count(1)

    async def loop() -> None:
        for _ in range(tasks_each):
            started = time.perf_counter()
            await task(next(numbers))
            latencies.append(1000 * (time.perf_counter() - started))

    window = Window(pids)
    window.start()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    figures = window.stop()
    return figures | {"tasks": len(latencies), "latencies_ms": latencies}


# --- the process --------------------------------------------------------------------------


def tuned_as_mcos_run() -> None:
    """The garbage collector as `mcos run` sets it once its runner is built; the frameworks'
    processes keep CPython's defaults."""
    from mcos.cli._context import tune_garbage_collector

    tune_garbage_collector()


async def serve(config: dict[str, Any]) -> None:
    kind = config["contender"]
    pids = {name: int(pid) for name, pid in config.get("pids", {}).items()}
    if kind == "idle":
        from _runtime_ours import idle_runner

        tuned_as_mcos_run()
        print("ready", flush=True)
        print(json.dumps(await idle_runner(config)), flush=True)
        return
    if kind == "mcos":
        from _runtime_ours import OurLoop

        ours = OurLoop(config)
        tuned_as_mcos_run()

        async def phase(concurrency: int, tasks_each: int) -> dict[str, Any]:
            return await ours.phase(pids, concurrency, tasks_each)

    else:
        if kind == "bare_same":
            fleet_dir = Path(config["fleet_dir"])
            task = bare_same_request(config["base_url"], config["key"], fleet_dir)
        else:
            make = {"bare": bare, "langgraph": langgraph, "agents": openai_agents}[kind]
            task = make(config["base_url"], config["key"])

        async def phase(concurrency: int, tasks_each: int) -> dict[str, Any]:
            return await framework_phase(task, pids, concurrency, tasks_each)

    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line.strip():
            return
        command = json.loads(line)
        if command["cmd"] == "quit":
            return
        profile_dir = os.environ.get("MCOS_BENCH_PROFILE")
        if profile_dir and kind == "mcos":
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
            figures = await phase(command["concurrency"], command["tasks_each"])
            profiler.disable()
            name = f"{kind}-c{command['concurrency']}-{time.monotonic_ns()}.pstats"
            profiler.dump_stats(str(Path(profile_dir) / name))
        else:
            figures = await phase(command["concurrency"], command["tasks_each"])
        figures["memory"] = memory_of(os.getpid())
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    if "tool_dir" in settings:  # where the frameworks' tool writes
        Path(settings["tool_dir"]).mkdir(parents=True, exist_ok=True)
        os.chdir(settings["tool_dir"])
    asyncio.run(serve(settings))
