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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2  # what the provider SDKs are built on
import orjson

from mcos.client import ApiError, Unreachable
from mcos.client.outbox import Outbox, RejectedReport
from mcos.contract import paths
from mcos.errors import InvalidInput
from mcos.fleet.schema import Agent, Fleet
from mcos.fleet.warnings import agent_warnings
from mcos.runtime import sandbox
from mcos.runtime.agent import AgentLoop
from mcos.runtime.client import AgentLink, ControlPlane, deliver, deliver_many
from mcos.runtime.fleet_follow import FleetChange, FleetFollow, fleet_change, poll_fleet
from mcos.runtime.mailboxes import Mailboxes
from mcos.runtime.providers import make_provider, provider_pool
from mcos.runtime.providers.simulated import Script
from mcos.runtime.service_watch import ServiceWatch
from mcos.runtime.workspace import Workspace
from mcos.sse import FrameReader

log = logging.getLogger("mcos.runtime")

RUNNER_TOKENS = "runner-tokens.json"
"""In the runner's state folder (0600): the runner token of each machine it runs agents of."""
RUNNER_PREFIX = "mcos_r_"
EXPIRY_WARNING = timedelta(days=14)
DRAIN_SECONDS = 10.0
"""How long a stopping runner keeps delivering its outbox before it exits."""
REPORT_LINGER_SECONDS = 0.01
"""How long a report waits for the reports that follow it to share one request: it reaches
the control plane that much later, in a tenth of the requests."""
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
        problems += _sandbox_problems(fleet, agent, key)
        if agent.provider == "simulated":
            continue
        if not env.get(agent.key_variable):
            problems.append(
                Problem(
                    f"{key}.credential",
                    f"environment variable {agent.key_variable} is not set",
                    f"export {agent.key_variable}=<{agent.name}'s own {agent.provider} API key> "
                    "before `mcos run` (one key per agent, never shared)",
                )
            )
    return problems


async def tell_set_aside(outbox: Outbox, rejected: RejectedReport) -> None:
    """Show a report the control plane refused for good on its agent's card (never a notice
    about a notice that was itself refused)."""
    report = rejected.report
    if report.path == paths.set_aside(report.agent):
        return
    await outbox.put(
        report.agent,
        "POST",
        paths.set_aside(report.agent),
        {
            "method": report.method,
            "path": report.path[:500],
            "status": rejected.status,
            "error": rejected.error[:2_000] or "no reason given",
        },
    )


def _warn_if_expiring(info: dict[str, Any]) -> None:
    expires = info.get("expires_at")
    if expires and datetime.fromisoformat(expires) - datetime.now(UTC) < EXPIRY_WARNING:
        log.warning(
            "the runner token for %s expires at %s: `mcos tokens rotate %s` on the control "
            "plane's machine, then give the new one to this runner",
            info.get("machine"),
            expires,
            info.get("id"),
        )


def _sandbox_problems(fleet: Fleet, agent: Agent, key: str) -> list[Problem]:
    """An agent with ``exec`` on a sandboxed machine needs a sandbox that works here."""
    if "exec" not in agent.capabilities or fleet.sandbox_for(agent).kind == "none":
        return []
    available = sandbox.detect()
    if available.available:
        return []
    machines = [m.name for m in fleet.machines]
    return [
        Problem(
            f"{key}.capabilities",
            f"agent {agent.name!r} has exec, and its commands cannot be sandboxed on this "
            f"machine: {available.reason}",
            f"{available.fix}; or, to run its commands unconfined (a warning on its card), set "
            f'sandbox = "none" on machines[{machines.index(agent.machine)}] '
            f"({agent.machine}) in the fleet file",
        )
    ]


def sandbox_notes(fleet: Fleet, agents: Iterable[Agent]) -> list[str]:
    """What the runner says at start about its agents' commands: how each limit is held, and
    every agent whose commands run unconfined."""
    notes = [warning for agent in agents for warning in agent_warnings(fleet, agent)]
    confined = [a for a in agents if fleet.sandbox_for(a).kind != "none"]
    if confined and sandbox.detect().available:
        notes += [
            f"sandbox limit not enforced here: {line}"
            for line in sandbox.describe()
            if not line.enforced
        ]
    return notes


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
    elsewhere = sorted(a.name for a in fleet.agents if a.external and a.name in wanted)
    if elsewhere:
        raise CannotStart(
            [
                Problem(
                    "--agent",
                    f'agent {elsewhere[0]!r} runs in another runtime (runtime = "external")',
                    "it joins with its own agent token (`mcos tokens issue --agent "
                    f'{elsewhere[0]}`); run it there, or drop runtime = "external" from it in '
                    "the fleet file for `mcos run` to run it",
                )
            ]
        )
    mine = [
        a
        for a in fleet.agents
        if (machine is None or a.machine == machine) and (not wanted or a.name in wanted)
    ]
    chosen = [a for a in mine if not a.external]
    if not chosen:
        why = 'all of them run elsewhere (runtime = "external")' if mine else "none"
        raise CannotStart(
            [
                Problem(
                    "--machine", f"no agents to run on {machine!r}: {why}", "pick another machine"
                )
            ]
        )
    return chosen


@dataclass
class _Live:
    """What the runner holds while it runs, for starting and stopping agents."""

    control_plane: ControlPlane
    outbox: Outbox
    tokens: dict[str, str]
    by_machine: dict[str, str]
    stopping: asyncio.Event
    pools: dict[str, httpx2.AsyncClient] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    readers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    watchers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    """Each machine's event stream, by runner token."""
    resume: dict[str, int] = field(default_factory=dict)
    """The last event each stream delivered, to reconnect from."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)


async def _close_loop(loop: AgentLoop, *, provider: bool = True) -> None:
    """Close what an agent loop holds; ``provider=False`` while the runner runs on, since the
    provider's connection pool is shared with other agents of the same endpoint."""
    if loop.mailboxes is not None:
        await loop.mailboxes.close()
    if provider:
        await loop.caller.provider.aclose()
    if loop.commands is not None:
        await loop.commands.close()


@dataclass
class Runner:
    fleet: Fleet
    agents: list[Agent]
    url: str
    state_dir: Path
    workspaces: Path
    token: str | None = None
    """A runner token for the agents' machine, or an operator token to issue one with."""
    script: Script | None = None
    """The simulated provider's script (tests and the demo); real providers ignore it."""
    souls: Path | None = None
    """The fleet folder's ``souls/``: the role templates a new agent's ``SOUL.md`` is made from."""
    loops: dict[str, AgentLoop] = field(default_factory=dict)
    services: ServiceWatch | None = None
    """The services of these machines, watched while it runs."""
    follow: FleetFollow | None = None
    """Poll the control plane's fleet and take up changes (``mcos run`` without fleet.toml)."""
    fleet_version: str | None = None
    """The version of ``fleet`` the control plane gave (``None``: read from a file)."""
    only: frozenset[str] = frozenset()
    """The agents ``--agent`` chose (empty: every agent of the machine, as it changes)."""
    _live: _Live | None = None

    def _saved_tokens(self) -> dict[str, str]:
        path = self.state_dir / RUNNER_TOKENS
        return orjson.loads(path.read_bytes()) if path.exists() else {}

    def _save_tokens(self, tokens: dict[str, str]) -> None:
        path = self.state_dir / RUNNER_TOKENS
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(tokens))

    async def _token_info(self, control_plane: ControlPlane, token: str) -> dict[str, Any] | None:
        """What the control plane says of ``token`` (kind, machine, expiry), or ``None`` when it
        no longer works (revoked, expired, or from another fleet's database)."""
        try:
            info: dict[str, Any] = await control_plane.request(token, "GET", paths.TOKENS_CURRENT)
        except ApiError as exc:
            if exc.status in (401, 403):
                return None
            raise
        return info

    async def runner_tokens(self, control_plane: ControlPlane) -> dict[str, str]:
        """A runner token for each machine the agents run on: the one given (a runner token,
        ``mcos tokens issue --runner MACHINE``), or kept from an earlier run, or issued now with
        the operator's token. Agents act only through it; the operator token is not kept."""
        machines = sorted({a.machine for a in self.agents})
        given = self.token
        if given is not None and given.startswith(RUNNER_PREFIX):
            info = await self._token_info(control_plane, given)
            if info is None or info["kind"] != "runner":
                raise CannotStart(
                    [
                        Problem(
                            "token",
                            "the runner token is unknown, expired or revoked",
                            "issue a new one where the fleet is: `mcos tokens issue --runner "
                            f"{machines[0]}`, then set MCOS_TOKEN to it",
                        )
                    ]
                )
            elsewhere = [m for m in machines if m != info["machine"]]
            if elsewhere:
                raise CannotStart(
                    [
                        Problem(
                            "--machine",
                            f"this runner token acts only for machine {info['machine']!r}, not "
                            f"{', '.join(elsewhere)}",
                            f"run with --machine {info['machine']}, or use that machine's token",
                        )
                    ]
                )
            _warn_if_expiring(info)
            return {info["machine"]: given}
        saved = self._saved_tokens()
        tokens: dict[str, str] = {}
        for machine in machines:
            token = saved.get(machine)
            info = await self._token_info(control_plane, token) if token else None
            if info is not None and info.get("machine") == machine and token is not None:
                _warn_if_expiring(info)
                tokens[machine] = token
                continue
            if given is None:
                raise CannotStart(
                    [
                        Problem(
                            "token",
                            f"no runner token for machine {machine!r}",
                            f"on the control plane's machine: `mcos tokens issue --runner "
                            f"{machine}`, then set MCOS_TOKEN to it here (or run from the "
                            "fleet folder, whose operator token issues one)",
                        )
                    ]
                )
            try:
                issued = await control_plane.request(
                    given,
                    "POST",
                    paths.TOKENS,
                    {"kind": "runner", "machine": machine, "label": f"mcos run ({machine})"},
                )
            except ApiError as exc:
                raise CannotStart(
                    [
                        Problem(
                            "token",
                            f"could not issue a runner token for {machine!r}: {exc.message}",
                            "give an operator token (the fleet folder's .mcos/operator.token) "
                            "or a runner token for this machine",
                        )
                    ]
                ) from None
            tokens[machine] = issued["token"]
            self._save_tokens(saved | tokens)
        legacy = self.state_dir / "tokens.json"
        if legacy.exists():  # agent tokens of older versions: runners no longer hold any
            legacy.unlink()
        return tokens

    async def run(self, stopping: asyncio.Event) -> int:
        """Run until ``stopping`` is set; return how many reports were left undelivered."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        control_plane = ControlPlane(self.url)
        by_machine = await self.runner_tokens(control_plane)
        # Every agent of these machines: a service's owner reports through the outbox even
        # when this runner was started for some of its machine's agents only.
        tokens = {
            a.name: by_machine[a.machine] for a in self.fleet.agents if a.machine in by_machine
        }
        outbox = Outbox(
            self.state_dir / "outbox.db",
            lambda r: deliver(control_plane, tokens, r),
            on_set_aside=lambda rejected: tell_set_aside(outbox, rejected),
            deliver_many=lambda reports: deliver_many(control_plane, tokens, reports),
            linger=REPORT_LINGER_SECONDS,
        )
        # The services of these machines, reported in their owners' lanes of the outbox.
        self.services = services = ServiceWatch.for_machines(
            self.fleet,
            by_machine,
            lambda owner: AgentLink(owner, tokens[owner], control_plane, outbox),
        )
        live = _Live(control_plane, outbox, tokens, by_machine, stopping)
        self._live = live
        for agent in self.agents:
            self._start(agent)
        delivery = asyncio.create_task(outbox.run())
        for token in by_machine.values():
            live.watchers[token] = asyncio.create_task(self.watch(control_plane, token, stopping))
        watchers = []
        if self.follow is not None:
            watchers.append(asyncio.create_task(self._follow_fleet(self.follow, stopping)))
        stopper = asyncio.create_task(self._wake_all_when(stopping))
        service_reader = asyncio.create_task(services.run(stopping))
        log.info("running %d agents against %s", len(self.loops), self.url)
        try:
            await self._until_loops_end(stopping)
        finally:
            watchers += live.watchers.values()
            for watcher in (*watchers, service_reader, *live.readers.values()):
                watcher.cancel()
            stopper.cancel()
            left = await outbox.drain(DRAIN_SECONDS)
            delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery
            for watcher in (*watchers, service_reader, *live.readers.values()):
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            for loop in self.loops.values():
                await _close_loop(loop)
            for pool in live.pools.values():
                await pool.aclose()
            outbox.close()
            await control_plane.aclose()
        if left:
            log.warning("%d reports left in the outbox; they are delivered on the next start", left)
        return left

    # -- the agent loops, started and stopped while the runner runs ----------------------

    def _start(self, agent: Agent) -> None:
        """Build ``agent``'s loop on the current fleet and run it."""
        live = self._live
        assert live is not None, "only while the runner runs"
        pool = None
        if agent.provider != "simulated":
            # One connection pool per provider endpoint, shared by the agents that use it.
            endpoint = f"{agent.provider}:{agent.base_url}"
            if endpoint not in live.pools:
                live.pools[endpoint] = provider_pool()
            pool = live.pools[endpoint]
        provider = make_provider(
            agent.provider,
            api_key=os.environ.get(agent.key_variable),
            base_url=agent.base_url,
            http_client=pool,
            script=self.script,
        )
        live.tokens[agent.name] = live.by_machine[agent.machine]
        workspace = Workspace.open(self.workspaces, self.fleet, agent, self.souls)
        link = AgentLink(agent.name, live.tokens[agent.name], live.control_plane, live.outbox)
        mailboxes = (
            Mailboxes(self.fleet, agent, link) if self.fleet.mail.owned_by(agent.name) else None
        )
        loop = AgentLoop(
            self.fleet,
            agent,
            workspace,
            link,
            provider,
            self.state_dir / "egress",
            mailboxes,
            self.services,
        )
        self.loops[agent.name] = loop
        live.tasks[agent.name] = asyncio.create_task(loop.run(live.stopping))
        if mailboxes is not None:
            live.readers[agent.name] = asyncio.create_task(mailboxes.run(live.stopping))
        live.changed.set()

    async def _retire(self, name: str) -> None:
        """Stop ``name``'s loop after its current step and close what it held."""
        live = self._live
        assert live is not None, "only while the runner runs"
        loop = self.loops.pop(name)
        task = live.tasks.pop(name)
        reader = live.readers.pop(name, None)
        loop.stop()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        try:
            await task
        except Exception:
            log.exception("%s: its loop failed while stopping", name)
        await _close_loop(loop, provider=False)
        live.changed.set()

    async def _resubscribe(self) -> None:
        """Reconnect the event streams (from the last event seen, so nothing is missed): the
        control plane chose what a stream carries by the fleet it had when it opened."""
        live = self._live
        assert live is not None
        for token, watcher in list(live.watchers.items()):
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            live.watchers[token] = asyncio.create_task(
                self.watch(live.control_plane, token, live.stopping)
            )

    async def _until_loops_end(self, stopping: asyncio.Event) -> None:
        """Wait for the agent loops (an error in one stops the runner, as it always did); a
        runner that follows the control plane's fleet waits for ``stopping`` even with none."""
        live = self._live
        assert live is not None
        while True:
            pending = {t for t in live.tasks.values() if not t.done()}
            if stopping.is_set() or (not pending and self.follow is None):
                await asyncio.gather(*pending)
                return
            live.changed.clear()
            waits = {
                asyncio.ensure_future(live.changed.wait()),
                asyncio.ensure_future(stopping.wait()),
            }
            done, _ = await asyncio.wait(pending | waits, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()
            for finished in done & pending:
                finished.result()

    async def _follow_fleet(self, follow: FleetFollow, stopping: asyncio.Event) -> None:
        """Poll the control plane's fleet; apply a new version where it is safe to."""
        live = self._live
        assert live is not None
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=follow.every_seconds)
            if stopping.is_set():
                return
            try:
                found = await poll_fleet(live.control_plane, follow, self.fleet_version)
            except (Unreachable, ApiError) as exc:
                log.warning("could not read the fleet from the control plane: %s", exc)
                continue
            if found is not None:
                await self.apply_fleet(*found)

    async def apply_fleet(self, version: str, fleet: Fleet) -> FleetChange:
        """Take up a new fleet: removed agents stop, new ones start, changed ones restart
        (each after its current step); say what needs the runner restarted."""
        live = self._live
        assert live is not None, "only while the runner runs"
        change = fleet_change(self.fleet, fleet, set(live.by_machine), set(self.loops), self.only)
        env = dict(os.environ)
        blocked = {
            agent.name: problems
            for agent in (*change.start, *change.restart)
            if (problems := check_agents(fleet, [agent], env))
        }
        for name, problems in blocked.items():
            log.error(
                "agent %s not (re)started with the new fleet:\n%s",
                name,
                "\n".join(str(p) for p in problems),
            )
        self.fleet, self.fleet_version = fleet, version
        for name in change.stop:
            log.warning("agent %s left this machine's fleet: stopping it", name)
            await self._retire(name)
        for agent in change.restart:
            if agent.name in blocked:
                continue
            log.warning("agent %s changed in the fleet: restarting its loop", agent.name)
            await self._retire(agent.name)
            self._start(agent)
        for agent in change.start:
            if agent.name not in blocked:
                log.warning("agent %s joined this machine's fleet: starting it", agent.name)
                self._start(agent)
        self.agents = [self.loops[n].agent for n in self.loops]
        if change.start or change.restart:
            await self._resubscribe()
        for message in change.needs_restart:
            log.warning("fleet change not taken up until `mcos run` restarts: %s", message)
        log.info("fleet version %s: %d agents running", version[:12], len(self.loops))
        return change

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

    async def watch(self, control_plane: ControlPlane, token: str, stopping: asyncio.Event) -> None:
        """Follow the event stream with a machine's runner token (it sees what concerns that
        machine's agents) and wake agents; resume after a dropped connection with
        Last-Event-ID."""
        resume = self._live.resume if self._live is not None else {}
        last: int | None = resume.get(token)
        while not stopping.is_set():
            headers = {"Authorization": f"Bearer {token}"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                async with control_plane.http.stream(
                    "GET",
                    paths.STREAM,
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
                            last = resume[token] = frame.id
                        if frame.event == "stream.resync":
                            last = None
                            resume.pop(token, None)
                            for loop in self.loops.values():
                                loop.wake("resync")
                        elif frame.data:
                            self.route(orjson.loads(frame.data))
            except (httpx2.HTTPError, Unreachable, ApiError) as exc:
                log.debug("event stream lost (%s); reconnecting", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=2.0)
