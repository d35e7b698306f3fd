"""``mcos run``: the agents of one machine, each in its own loop, sharing one runner.

The runner checks everything it can before it starts (the machine, every agent's provider, its
one credential variable, a price for its model) and refuses to start with a list of fixes. It
then holds one HTTP pool to the control plane, one durable outbox, and one event-stream
subscription that wakes an agent when work arrives for it. SIGTERM lets every agent finish its
current step, delivers what the outbox holds (for a while), and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2  # what the provider SDKs are built on
import orjson

from mcos.errors import InvalidInput
from mcos.fleet.schema import Agent, Fleet
from mcos.runtime.agent import AgentLoop
from mcos.runtime.client import AgentLink, ApiError, ControlPlane, Unreachable, deliver
from mcos.runtime.outbox import Outbox
from mcos.runtime.providers import make_provider
from mcos.runtime.providers.simulated import Script
from mcos.runtime.workspace import Workspace
from mcos.sse import FrameReader

log = logging.getLogger("mcos.runtime")

DRAIN_SECONDS = 10.0
"""How long a stopping runner keeps delivering its outbox before it exits."""
WAKE_TYPES = (
    "task.*",
    "message.sent",
    "approval.*",
    "grant.created",
    "budget.changed",
    "agent.nudged",
    "incident.confirmed",
    "committee.*",
)
"""What can wake an agent: the runner's stream asks for these alone, not every heartbeat."""


@dataclass(frozen=True)
class Problem:
    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}\n  fix: {self.fix}"


class CannotStart(InvalidInput):
    """The runner found problems before starting; each names the key and the fix."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("cannot start:\n" + "\n".join(str(p) for p in problems))
        self.problems = problems


def check_agents(fleet: Fleet, agents: Iterable[Agent], env: dict[str, str]) -> list[Problem]:
    """What would stop these agents from running here, each with its fix (the fleet loader has
    already checked the rest, such as a price for every model)."""
    problems = []
    for agent in agents:
        index = fleet.agents.index(agent)
        key = f"agents[{index}] ({agent.name})"
        if agent.provider == "simulated":
            continue
        if not env.get(agent.credential):
            problems.append(
                Problem(
                    f"{key}.credential",
                    f"environment variable {agent.credential} is not set",
                    f"export {agent.credential}=<{agent.name}'s own {agent.provider} API key> "
                    "before `mcos run` (one key per agent, never shared)",
                )
            )
    return problems


def retiring_models(agents: Iterable[Agent]) -> list[str]:
    """Warnings for models their provider has announced an end of life for.

    The Anthropic SDK keeps that list (and warns on every call, where nobody sees it); read it
    here once, so the operator hears of it when the runner starts. Best effort: the list is not
    a public API of the SDK.
    """
    try:
        from anthropic._data import DEPRECATED_MODELS
    except ImportError:  # pragma: no cover - an SDK without the list
        return []
    retiring: dict[str, list[str]] = {}
    for agent in agents:
        if agent.provider == "anthropic" and agent.model in DEPRECATED_MODELS:
            retiring.setdefault(agent.model, []).append(agent.name)
    return [
        f"{model} reaches end of life on {DEPRECATED_MODELS[model]} (used by "
        f"{', '.join(names)}); move these agents to a newer model in the fleet file"
        for model, names in retiring.items()
    ]


def select_agents(fleet: Fleet, machine: str | None, names: Iterable[str] = ()) -> list[Agent]:
    wanted = set(names)
    if machine is not None and not any(m.name == machine for m in fleet.machines):
        known = ", ".join(m.name for m in fleet.machines)
        raise CannotStart(
            [Problem("--machine", f"no machine named {machine!r}", f"use one of: {known}")]
        )
    unknown = sorted(wanted - {a.name for a in fleet.agents})
    if unknown:
        raise CannotStart(
            [Problem("--agent", f"no agent named {unknown[0]!r}", "see `mcos agents ls`")]
        )
    chosen = [
        a
        for a in fleet.agents
        if (machine is None or a.machine == machine) and (not wanted or a.name in wanted)
    ]
    if not chosen:
        raise CannotStart(
            [Problem("--machine", f"no agents on {machine!r}", "pick another machine")]
        )
    return chosen


@dataclass
class Runner:
    fleet: Fleet
    agents: list[Agent]
    url: str
    state_dir: Path
    workspaces: Path
    operator_token: str | None = None
    script: Script | None = None
    """The simulated provider's script (tests and the demo); real providers ignore it."""
    loops: dict[str, AgentLoop] = field(default_factory=dict)

    def _tokens(self) -> dict[str, str]:
        path = self.state_dir / "tokens.json"
        return orjson.loads(path.read_bytes()) if path.exists() else {}

    def _save_tokens(self, tokens: dict[str, str]) -> None:
        path = self.state_dir / "tokens.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(tokens))

    async def agent_tokens(self, control_plane: ControlPlane) -> dict[str, str]:
        """Each agent's own token: kept from an earlier run, or issued now with the operator's."""
        tokens = self._tokens()
        missing = [a.name for a in self.agents if a.name not in tokens]
        if missing and self.operator_token is None:
            raise CannotStart(
                [
                    Problem(
                        "token",
                        f"no agent token for {', '.join(missing)}, and no operator token "
                        "to issue one",
                        "run from the fleet folder (it holds .mcos/operator.token) "
                        "or set MCOS_TOKEN",
                    )
                ]
            )
        for name in missing:
            answer = await control_plane.request(
                self.operator_token, "POST", f"/api/v1/agents/{name}/tokens", {"label": "mcos run"}
            )
            tokens[name] = answer["token"]
            self._save_tokens(tokens)
        return tokens

    async def run(self, stopping: asyncio.Event) -> int:
        """Run until ``stopping`` is set; return how many reports were left undelivered."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        control_plane = ControlPlane(self.url)
        tokens = await self.agent_tokens(control_plane)
        outbox = Outbox(self.state_dir / "outbox.db", lambda r: deliver(control_plane, tokens, r))
        # One connection pool per provider endpoint, shared by the agents that use it.
        pools: dict[str, httpx2.AsyncClient] = {}
        for agent in self.agents:
            pool = None
            if agent.provider != "simulated":
                endpoint = f"{agent.provider}:{agent.base_url}"
                if endpoint not in pools:
                    pools[endpoint] = httpx2.AsyncClient(timeout=600)
                pool = pools[endpoint]
            provider = make_provider(
                agent.provider,
                api_key=os.environ.get(agent.credential),
                base_url=agent.base_url,
                http_client=pool,
                script=self.script,
            )
            workspace = Workspace.open(self.workspaces, self.fleet, agent)
            link = AgentLink(agent.name, tokens[agent.name], control_plane, outbox)
            self.loops[agent.name] = AgentLoop(self.fleet, agent, workspace, link, provider)
        delivery = asyncio.create_task(outbox.run())
        watcher = asyncio.create_task(self.watch(control_plane, stopping))
        stopper = asyncio.create_task(self._wake_all_when(stopping))
        log.info("running %d agents against %s", len(self.loops), self.url)
        try:
            await asyncio.gather(*(loop.run(stopping) for loop in self.loops.values()))
        finally:
            watcher.cancel()
            stopper.cancel()
            left = await outbox.drain(DRAIN_SECONDS)
            delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            for loop in self.loops.values():
                await loop.caller.provider.aclose()
            for pool in pools.values():
                await pool.aclose()
            outbox.close()
            await control_plane.aclose()
        if left:
            log.warning("%d reports left in the outbox; they are delivered on the next start", left)
        return left

    async def _wake_all_when(self, stopping: asyncio.Event) -> None:
        """Sleeping agents notice the stop at once; busy ones after their current step."""
        await stopping.wait()
        for loop in self.loops.values():
            loop.wake("stop")

    # -- waking agents from the event stream ------------------------------------------

    def route(self, event: dict[str, Any]) -> None:
        """Wake the agents an event concerns; an extra wake costs one heartbeat, a missed one
        waits for the next scheduled heartbeat."""
        kind = event.get("type", "")
        if kind == "incident.confirmed":
            for loop in self.loops.values():
                loop.wake(kind)
            return
        data = event.get("data") or {}
        names = {data.get("assignee"), data.get("agent"), data.get("to")}
        members = data.get("members")  # a committee's: each is asked for its position
        if isinstance(members, list):
            names.update(members)
        subject = event.get("subject") or ""
        if subject.startswith("agent:"):
            names.add(subject.removeprefix("agent:"))
        if kind == "message.sent":
            if data.get("scope") == "fleet":
                names |= set(self.loops)
            elif data.get("channel"):
                names |= {n for n, lp in self.loops.items() if data["channel"] in lp.agent.channels}
        for name in names:
            woken = self.loops.get(name) if isinstance(name, str) else None
            if woken is not None and event.get("actor") != f"agent:{name}":
                woken.wake(kind)

    async def watch(self, control_plane: ControlPlane, stopping: asyncio.Event) -> None:
        """Follow the event stream (with the operator's token) and wake agents; resume after a
        dropped connection with Last-Event-ID. Without an operator token, heartbeats alone bring
        work, at each agent's heartbeat interval."""
        if self.operator_token is None:
            return
        last: int | None = None
        while not stopping.is_set():
            headers = {"Authorization": f"Bearer {self.operator_token}"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                async with control_plane.http.stream(
                    "GET",
                    "/api/v1/stream",
                    params={"types": ",".join(WAKE_TYPES)},
                    headers=headers,
                    timeout=httpx2.Timeout(10, read=90),
                ) as response:
                    if response.status_code != 200:
                        raise Unreachable(f"stream answered HTTP {response.status_code}")
                    reader = FrameReader()
                    async for line in response.aiter_lines():
                        frame = reader.feed(line)
                        if frame is None:
                            continue
                        if frame.id is not None:
                            last = frame.id
                        if frame.event == "stream.resync":
                            last = None
                            for loop in self.loops.values():
                                loop.wake("resync")
                        elif frame.data:
                            self.route(orjson.loads(frame.data))
            except (httpx2.HTTPError, Unreachable, ApiError) as exc:
                log.debug("event stream lost (%s); reconnecting", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=2.0)
