"""Our loop in the benchmark: the real ``Runner`` in this process against a real ``mcos serve``.

Nothing in ``src/`` is changed. The bench wraps two methods from outside: ``AgentLoop.work_on``
(to time each task from the moment the agent picks it up until it is finished) and the runner's
``Outbox`` (to know when every report has reached the control plane).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _machine import memory_of
from _runtime_common import Window, agent_key, task_text

from mcos.client.outbox import Outbox
from mcos.fleet.loader import load_fleet
from mcos.fleet.schema import Fleet
from mcos.runtime import runner as runner_module
from mcos.runtime.agent import AgentLoop
from mcos.runtime.runner import Runner

PHASE_TIMEOUT = 300.0


def _set_credentials(fleet: Fleet) -> None:
    """Each agent its own key, in the variable its ``credential`` names, as ``mcos run`` wants."""
    for agent in fleet.agents:
        os.environ[agent.credential] = agent_key(agent.name)


class OurLoop:
    """Runs each phase with a fresh ``Runner`` over tasks created before it starts."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.folder = Path(config["fleet_dir"])
        self.url: str = config["url"]
        self.fleet = load_fleet(self.folder)
        self.token = (self.folder / ".mcos" / "operator.token").read_text().strip()
        _set_credentials(self.fleet)
        self.records: list[tuple[int, float, float, float]] = []
        """(task id, picked up, finished) by ``perf_counter``, and picked up by ``time.time``."""
        self.expected = 0
        self.worked = asyncio.Event()
        self.window: Window | None = None
        self.outboxes: list[Outbox] = []
        self._wrap()

    def _wrap(self) -> None:
        work_on = AgentLoop.work_on
        bench = self

        async def timed(
            loop: AgentLoop, task: dict[str, Any], inbox: Any, stopping: asyncio.Event
        ) -> None:
            if bench.window is not None and not bench.window.started:
                bench.window.start()  # the phase starts when the first task is picked up
            started, wall = time.perf_counter(), time.time()
            try:
                await work_on(loop, task, inbox, stopping)
            finally:
                bench.records.append((int(task["id"]), started, time.perf_counter(), wall))
                if len(bench.records) >= bench.expected:
                    bench.worked.set()

        class KeptOutbox(Outbox):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                bench.outboxes.append(self)

        AgentLoop.work_on = timed  # type: ignore[method-assign]
        runner_module.Outbox = KeptOutbox  # type: ignore[misc]

    async def _create_tasks(self, api: httpx.AsyncClient, names: list[str], each: int) -> set[int]:
        """Round-robin over the agents, eight requests at a time, before any agent runs."""
        wanted = [(n, name) for n in range(each) for name in names]
        created: set[int] = set()
        gate = asyncio.Semaphore(8)

        async def create(number: int, name: str) -> None:
            async with gate:
                body = {"title": task_text(number + 1), "assignee": name}
                response = await api.post("/api/v1/tasks", json=body)
                response.raise_for_status()
                created.add(int(response.json()["id"]))

        await asyncio.gather(*(create(n, name) for n, name in wanted))
        return created

    async def phase(self, pids: dict[str, int], concurrency: int, each: int) -> dict[str, Any]:
        agents = list(self.fleet.agents[:concurrency])
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30) as api:
            since = (await api.get("/api/v1/health")).json()["last_seq"]
            ids = await self._create_tasks(api, [a.name for a in agents], each)
            self.records, self.expected, self.worked = [], len(ids), asyncio.Event()
            self.window = Window(pids)
            runner = Runner(
                self.fleet,
                agents,
                self.url,
                state_dir=self.folder / ".mcos" / "runner" / "bench",
                workspaces=self.folder / "workspaces",
                token=self.token,
            )
            stopping = asyncio.Event()
            running = asyncio.create_task(runner.run(stopping))
            try:
                await _until(self.worked.wait(), running)
                agents_done = time.perf_counter()
                # Every report delivered: the control plane has recorded each task as finished.
                await self.outboxes[-1].drain(PHASE_TIMEOUT)
                figures = self.window.stop()
            finally:
                stopping.set()
                left = await asyncio.wait_for(running, 60)
            done_at = await _done_times(api, since, ids)
        first = min(r[1] for r in self.records)
        worked = Counter(r[0] for r in self.records)
        return figures | {
            "tasks": len(ids),
            "latencies_ms": [1000 * (end - start) for _, start, end, _ in self.records],
            "done_latencies_ms": [
                1000 * (done_at[task] - wall)
                for task, _, _, wall in self.records
                if task in done_at
            ],
            "agents_wall_s": agents_done - first,
            "tasks_done": len(done_at),
            "worked_twice": sum(1 for n in worked.values() if n > 1),
            "left_in_outbox": left,
        }


async def _until(waiting: Any, running: asyncio.Task[Any]) -> None:
    """Wait for ``waiting``; fail if the runner stops first or the phase takes too long."""
    wait = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait(
        {wait, running}, timeout=PHASE_TIMEOUT, return_when="FIRST_COMPLETED"
    )
    if wait not in done:
        wait.cancel()
        if running.done():
            running.result()
            raise RuntimeError("the runner stopped before its tasks were done")
        raise RuntimeError(f"the tasks were not done within {PHASE_TIMEOUT:.0f} s")


async def _done_times(api: httpx.AsyncClient, since: int, ids: set[int]) -> dict[int, float]:
    """When the control plane recorded each task as finished: moved to review, where the agent
    leaves its work for someone else to accept (the event's timestamp)."""
    found: dict[int, float] = {}
    after = since
    while True:
        page = (
            await api.get(
                "/api/v1/events", params={"after": after, "types": "task.moved", "limit": 10_000}
            )
        ).json()["events"]
        if not page:
            return found
        for event in page:
            data = event["data"]
            if data.get("to") == "review" and data.get("task") in ids:
                found[data["task"]] = datetime.fromisoformat(event["ts"]).timestamp()
        after = page[-1]["seq"]


# --- idle agents ----------------------------------------------------------------------------


async def idle_runner(config: dict[str, Any]) -> dict[str, Any]:
    """A runner with N agents and no work: RSS once every agent has heartbeated once."""
    folder = Path(config["fleet_dir"])
    count = int(config["agents"])
    fleet = load_fleet(folder)
    _set_credentials(fleet)
    agents = list(fleet.agents[:count])
    before = memory_of(os.getpid())
    heartbeated: set[str] = set()
    everyone = asyncio.Event()
    heartbeat = AgentLoop.heartbeat
    issued: list[float] = []

    async def counted(loop: AgentLoop, status: str, note: str | None = None) -> dict[str, Any]:
        answer = await heartbeat(loop, status, note)
        heartbeated.add(loop.agent.name)
        if len(heartbeated) == count:
            everyone.set()
        return answer

    runner_tokens = Runner.runner_tokens

    async def timed_tokens(runner: Runner, control_plane: Any) -> dict[str, str]:
        started = time.perf_counter()
        tokens = await runner_tokens(runner, control_plane)
        issued.append(time.perf_counter() - started)
        return tokens

    AgentLoop.heartbeat = counted  # type: ignore[method-assign]
    Runner.runner_tokens = timed_tokens  # type: ignore[method-assign]
    token = (folder / ".mcos" / "operator.token").read_text().strip()
    runner = Runner(
        fleet,
        agents,
        config["url"],
        state_dir=folder / ".mcos" / "runner" / f"idle-{count}",
        workspaces=folder / "workspaces",
        token=token,
    )
    stopping = asyncio.Event()
    started = time.perf_counter()
    running = asyncio.create_task(runner.run(stopping))
    try:
        await _until(everyone.wait(), running)
        all_in = time.perf_counter() - started
        await asyncio.sleep(float(config.get("settle_seconds", 3.0)))
        busy = sum(1 for loop in runner.loops.values() if loop.saved.current_task is not None)
        idle = memory_of(os.getpid())
    finally:
        stopping.set()
        await asyncio.wait_for(running, 120)
    return {
        "agents": count,
        "rss_before_mib": before["rss_mib"],
        "rss_idle_mib": idle["rss_mib"],
        "peak_rss_mib": idle["peak_rss_mib"],
        "start_to_all_heartbeated_s": round(all_in, 2),
        "token_issuing_s": round(issued[0], 2) if issued else None,
        "busy_after_settle": busy,
    }
