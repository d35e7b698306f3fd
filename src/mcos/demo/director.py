"""The demo's director: a simulated clock, the day's scenes, and narration read from the log.

The director plays the operator's side of a day. At each scene's time on the simulated clock it
puts work on the board through the API (as the operator would) and scripts the model's side of
that work (:meth:`Director.answer`); the real runner, agent loops and guardrails do the rest.
It then waits for what the fleet actually did, reads it back from the event log, and narrates
it: to the terminal and as a ``demo.scene`` event, which the dashboard shows. A scene whose
outcome does not arrive in time says so; nothing is narrated that the log does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from mcos.client import ApiError, AsyncClient, Unreachable
from mcos.contract import paths
from mcos.demo.services import DemoService
from mcos.domain.events import DEMO_SCENE
from mcos.fleet.schema import Fleet
from mcos.runtime.providers.simulated import Rule, Script, Step

log = logging.getLogger("mcos.demo")

OUTCOME_SECONDS = 90.0
"""How long (real seconds) a scene waits for the fleet to do what it set in motion."""
Story = Literal["day", "guardrail", "clock"]
_SCENE: contextvars.ContextVar[Scene | None] = contextvars.ContextVar("scene", default=None)
"""The scene being played; a scene's outcome, followed in its own task, keeps its scene."""


@dataclass(frozen=True)
class Scene:
    at: clock_time
    """When it happens on the simulated clock, in the fleet's time zone."""
    story: Story
    """``guardrail`` for the seed's four failures, stopped; ``day`` for ordinary work."""
    title: str
    play: Callable[[Director], Awaitable[None]]
    after_outcomes: bool = False
    """Wait first for every earlier scene's outcome (the day's closing summary)."""


class SimulatedClock:
    """The fleet's wall clock, run ``speed`` times faster from ``start``."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed = start, speed
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def real_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self.now()).total_seconds() / self.speed)


def timeline(scenes: Iterable[Scene], start: datetime) -> list[tuple[datetime, Scene]]:
    """Each scene at its next occurrence from ``start`` on (the next day if already past)."""
    placed = []
    for scene in scenes:
        moment = datetime.combine(start.date(), scene.at, tzinfo=start.tzinfo)
        if moment < start:
            moment += timedelta(days=1)
        placed.append((moment, scene))
    return sorted(placed, key=lambda pair: pair[0])


class Director:
    def __init__(
        self,
        api: AsyncClient,
        fleet: Fleet,
        script: Script,
        workspaces: Path,
        clock: SimulatedClock,
        echo: Callable[[str], None],
        stop_agent: Callable[[str], None] = lambda name: None,
        service: DemoService | None = None,
    ) -> None:
        self.api, self.fleet, self.script = api, fleet, script
        self.service = service or DemoService(why_not="the demo started none")
        """The watched service the demo runs (FibreFlow's API), to crash at 03:00."""
        self.stop_agent = stop_agent
        """Stop one agent's loop, as if its process had died (the supervision scene)."""
        self.workspaces, self.clock, self.echo = workspaces, clock, echo
        self.zone = ZoneInfo(fleet.fleet.timezone)
        self._watchers: set[asyncio.Task[None]] = set()

    # -- talking to the control plane ---------------------------------------------------

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            return await self.api.request(method, path, body)
        except ApiError as exc:
            raise DemoError(f"{method} {path} answered {exc.status}: {exc.message}") from None
        except Unreachable as exc:
            if exc.answered is None:  # the control plane is gone: the demo cannot go on
                raise
            raise DemoError(f"{method} {path} answered {exc.answered}: {exc.message}") from None

    async def last_seq(self) -> int:
        seq: int = (await self.call("GET", paths.HEALTH))["last_seq"]
        return seq

    async def wait_for(
        self,
        types: str,
        after: int,
        match: Callable[[dict[str, Any]], bool] = lambda e: True,
        seconds: float = OUTCOME_SECONDS,
    ) -> dict[str, Any] | None:
        """The first event of ``types`` after ``after`` that ``match`` accepts, or ``None``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            page = await self.call("GET", f"{paths.EVENTS}?types={types}&after={after}&limit=500")
            for event in page["events"]:
                after = max(after, event["seq"])
                if match(event):
                    return dict(event)
            await asyncio.sleep(0.5)
        return None

    # -- what a scene does --------------------------------------------------------------

    def today(self) -> date:
        return self.clock.now().astimezone(self.zone).date()

    def clock_text(self) -> str:
        now = self.clock.now().astimezone(self.zone)
        days = (now.date() - self.clock.start.astimezone(self.zone).date()).days
        return f"{now:%H:%M}" + (f" +{days}d" if days else "")

    def put_file(self, agent: str, relative: str, text: str) -> None:
        """Put the scene's input where the agent works (mail, logs, a spreadsheet export)."""
        path = self.workspaces / agent / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def answer(self, contains: str, steps: Sequence[Step], *, agent: str | None = None) -> None:
        """The model's side of one piece of work: one answer per step, then the default."""
        label = None if agent is None else f"You are {self.fleet_label(agent)},"
        self.script.add(Rule(steps=tuple(steps), contains=contains, agent=label, times=len(steps)))

    def fleet_label(self, name: str) -> str:
        agent = self.fleet.agent(name)
        return agent.label if agent is not None else name

    async def task(
        self,
        agent: str,
        title: str,
        steps: Sequence[Step] | Callable[[int], Sequence[Step]],
        *,
        kind: str | None = None,
        priority: str = "normal",
        description: str = "",
    ) -> int:
        """Put a task on the board, script the agent's work on it, then assign it."""
        body: dict[str, Any] = {"title": title, "priority": priority, "description": description}
        if kind:
            body["kind"] = kind
        created = await self.call("POST", paths.TASKS, body)
        task_id: int = created["id"]
        self.answer(f"Task #{task_id}:", steps(task_id) if callable(steps) else steps)
        await self.call("POST", paths.assign(task_id), {"assignee": agent})
        return task_id

    async def accept(self, task_id: int) -> None:
        """Accept finished work as the operator does: review -> done (agents cannot accept
        their own), which is what the value ledger credits."""
        await self.call(
            "POST",
            paths.move(task_id),
            {"status": "done", "reason": "(simulated) read and accepted by the operator"},
        )

    async def narrate(self, text: str, *, outcome: bool = False, **data: Any) -> None:
        scene = _SCENE.get()
        story = scene.story if scene else "clock"
        title = scene.title if scene else "Simulated day"
        mark = {"guardrail": "GUARDRAIL", "day": "day", "clock": "demo"}[story]
        self.echo(f"[{self.clock_text()} simulated] {mark:<9} {'  -> ' if outcome else ''}{text}")
        await self.call(
            "POST",
            paths.EVENTS,
            {
                "type": DEMO_SCENE,
                "subject": "demo",
                "data": {
                    "simulated": True,
                    "clock": self.clock_text(),
                    "story": story,
                    "title": title,
                    "text": text,
                    "outcome": outcome,
                    **data,
                },
            },
        )

    def watch(self, outcome: Awaitable[None]) -> None:
        """Follow a scene's outcome in the background, so the clock keeps going."""

        async def run() -> None:  # a task copies the context: _SCENE stays this scene
            try:
                await outcome
            except DemoError as exc:
                log.warning("demo: %s", exc)

        task = asyncio.get_running_loop().create_task(run())
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    # -- the day ------------------------------------------------------------------------

    async def play(self, scenes: Iterable[Scene], stopping: asyncio.Event) -> None:
        for moment, scene in timeline(scenes, self.clock.now()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.clock.real_seconds_until(moment))
            if stopping.is_set():
                break
            if scene.after_outcomes:
                await self.outcomes(stopping)
            _SCENE.set(scene)
            try:
                await scene.play(self)
            except DemoError as exc:
                log.warning("demo: scene %r: %s", scene.title, exc)
        await self.outcomes(stopping)
        for task in list(self._watchers):
            task.cancel()

    async def outcomes(self, stopping: asyncio.Event) -> None:
        """Wait for the outcomes being followed (each gives up after OUTCOME_SECONDS)."""
        stop = asyncio.ensure_future(stopping.wait())
        while self._watchers and not stopping.is_set():
            await asyncio.wait({*self._watchers, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()


class DemoError(Exception):
    """The control plane refused something the director asked; the scene is skipped."""


async def fleet_alive(api: AsyncClient, names: Iterable[str], seconds: float) -> int:
    """Wait until every named agent has heartbeated since this call began; how many have."""
    wanted = set(names)
    began = time.monotonic()
    alive: set[str] = set()
    while time.monotonic() - began < seconds:
        agents = (await api.request("GET", paths.AGENTS))["agents"]
        fresh = time.monotonic() - began + 1.0
        alive = {
            a["name"]
            for a in agents
            if a["seconds_since_heartbeat"] is not None and a["seconds_since_heartbeat"] < fresh
        } & wanted
        if alive == wanted:
            break
        await asyncio.sleep(0.5)
    return len(alive)
