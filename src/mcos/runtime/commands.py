"""Where one agent's commands run: its bubblewrap sandbox, built from the fleet file, with the
egress proxy as its only way out; or, on a machine the fleet file opted out (``sandbox =
"none"``), unconfined, with a minimal environment (every affected agent's card says so).

What the sandbox shows comes from ``Fleet.sandbox_for(agent)``: the workspace writable, the
agent's ``read_only``/``read_write`` folders, the protected folders inside them masked. Every
git repository found in those places has its ``.git`` shown read-only, so no shell command can
commit: ``git_commit`` counts the change and asks first, and only its own git gets ``.git``
writable. With ``network`` (in the fleet file, or restored for a while), the sandbox reaches
out only through the agent's egress proxy, which asks the control plane about every connection
with the addresses the host resolved to, and connects to a checked one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from mcos.client import Unreachable
from mcos.fleet.schema import Agent, Fleet
from mcos.runtime import netcheck
from mcos.runtime.client import AgentLink
from mcos.runtime.egress import EgressProxy, EgressRefused
from mcos.runtime.permission import Parked, ToolError
from mcos.runtime.sandbox import Limits, Sandbox, SandboxError, SandboxResult
from mcos.runtime.tooling import CommandResult, cap_output

log = logging.getLogger("mcos.runtime")

UNCONFINED_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ")
"""All an unconfined command inherits: never the runner's other agents' keys."""
GIT_SEARCH_DEPTH = 4
"""How deep under the workspace (and each writable folder) repositories are looked for."""
GIT_SEARCH_FOLDERS = 20_000
"""Folders looked at, at most, per command: a huge tree is not walked in full every time."""
_SKIPPED = frozenset({"node_modules", ".venv", "venv", "__pycache__", ".mcos", ".cache"})


def repositories(roots: Collection[Path]) -> list[Path]:
    """The ``.git`` folders under ``roots`` (and of the roots), without following links."""
    found: list[Path] = []
    seen = 0
    for root in roots:
        if not root.is_dir():
            continue
        base = len(root.parts)
        for folder, names, _ in os.walk(root, followlinks=False):
            seen += 1
            here = Path(folder)
            if ".git" in names and not (here / ".git").is_symlink():
                found.append(here / ".git")
            depth = len(here.parts) - base
            names[:] = [
                n for n in names if n != ".git" and n not in _SKIPPED and depth < GIT_SEARCH_DEPTH
            ]
            if seen >= GIT_SEARCH_FOLDERS:
                log.warning("stopped looking for repositories after %d folders", seen)
                return found
    return found


def read_only_git(roots: Collection[Path], writable: Collection[Path]) -> list[Path]:
    """The ``.git`` folders to show read-only: all found, but those of ``writable``."""
    keep = {Path(os.path.realpath(repo)) / ".git" for repo in writable}
    return [g for g in repositories(roots) if Path(os.path.realpath(g)) not in keep]


@dataclass(frozen=True)
class Unconfined:
    """What a command run without a sandbox did (a machine with ``sandbox = "none"``)."""

    exit_status: int
    output: str
    timed_out: bool

    def report(self) -> str:
        note = "\n[the command ran past its time and was killed]" if self.timed_out else ""
        return f"exit status {self.exit_status}\n{self.output}{note}"


class AgentCommands:
    """One agent's :class:`~mcos.runtime.tooling.Commands`, held by the runner for its life."""

    def __init__(
        self,
        fleet: Fleet,
        agent: Agent,
        workspace: Path,
        link: AgentLink,
        egress_dir: Path,
        granted: Callable[[], Collection[str]] = tuple,
    ) -> None:
        self.fleet, self.agent, self.workspace, self.link = fleet, agent, workspace, link
        self.plan = fleet.sandbox_for(agent)
        self.egress_dir = egress_dir
        self._granted = granted
        self._proxy: EgressProxy | None = None
        self._missing: set[str] = set()

    @property
    def confined(self) -> bool:
        return self.plan.kind != "none"

    def limits(self, timeout_seconds: float | None) -> Limits:
        plan = self.plan
        wall = float(plan.timeout_seconds)
        if timeout_seconds is not None:
            wall = min(wall, timeout_seconds)
        return Limits(
            wall_seconds=wall,
            memory_bytes=plan.memory_mb << 20,
            processes=plan.max_processes,
            output_bytes=plan.output_kb << 10,
            file_bytes=plan.file_size_mb << 20,
        )

    async def run(
        self,
        command: str,
        *,
        timeout_seconds: float | None = None,
        writable_git: tuple[Path, ...] = (),
    ) -> CommandResult:
        limits = self.limits(timeout_seconds)
        if not self.confined:
            if "exec" not in self.agent.capabilities:
                # The fleet file's opt-out covers the agents it lists with exec (each warned of
                # on its card); an approval restoring exec is no reason to run unconfined.
                raise ToolError(
                    f"machine {self.agent.machine!r} has no sandbox, and {self.agent.name!r}'s "
                    "exec is a restoration, not the fleet file's: nothing runs unconfined on an "
                    "approval; run it where there is a sandbox, or ask an operator"
                )
            return await _unconfined(command, self.workspace, limits.wall_seconds)
        read_only, read_write = (
            self._present(self.plan.read_only),
            self._present(self.plan.read_write),
        )
        git = await asyncio.to_thread(read_only_git, (self.workspace, *read_write), writable_git)
        sandbox = Sandbox(
            self.workspace,
            read_only=(*read_only, *git),
            read_write=read_write,
            hidden=tuple(Path(p) for p in self.plan.masked),
            egress_socket=await self._egress() if self._networked() else None,
        )
        try:
            result: SandboxResult = await sandbox.run(command, limits)
        except SandboxError as exc:
            raise ToolError(
                f"the command could not be sandboxed, so it did not run: {exc}"
            ) from None
        return result

    def _present(self, paths: tuple[str, ...]) -> tuple[Path, ...]:
        """The configured folders that exist on this machine; the others are left out (said
        once in the runner's log), rather than every command refused."""
        present = []
        for path in paths:
            if os.path.lexists(path):
                present.append(Path(path))
            elif path not in self._missing:
                self._missing.add(path)
                log.warning(
                    "%s: %s does not exist on this machine; its commands run without it",
                    self.agent.name,
                    path,
                )
        return tuple(present)

    def _networked(self) -> bool:
        return "network" in self.agent.capabilities or "network" in self._granted()

    async def _egress(self) -> Path:
        """The agent's egress proxy, started on first need."""
        if self._proxy is None:
            self.egress_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            proxy = EgressProxy(self.egress_dir / f"{self.agent.name}.sock", self._check)
            await proxy.start()
            self._proxy = proxy
        return self._proxy.path

    async def _check(self, host: str, port: int) -> str:
        """Every connection out of the sandbox, asked of the control plane like a fetch."""
        reason = f"a command's connection to {host}:{port}"
        try:
            return await netcheck.checked_address(self.link, host, port, reason=reason)
        except ToolError as exc:
            raise EgressRefused(str(exc)) from None
        except Parked as parked:
            raise EgressRefused(
                f"{host}:{port} needs approval #{parked.approval_id} first ({parked.reason}); "
                "it waits for an operator"
            ) from None
        except Unreachable:
            raise EgressRefused("the control plane cannot be asked, so nothing connects") from None

    async def close(self) -> None:
        if self._proxy is not None:
            await self._proxy.close()
            self._proxy = None


async def _unconfined(command: str, workspace: Path, wall_seconds: float) -> Unconfined:
    env = {k: os.environ[k] for k in UNCONFINED_ENV_KEEP if k in os.environ}
    env["HOME"] = str(workspace)
    process = await asyncio.create_subprocess_shell(
        command,
        cwd=workspace,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # so a timeout kills the command's children too
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), wall_seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return Unconfined(137, "", timed_out=True)
    status = process.returncode or 0
    text = cap_output(output.decode(errors="replace"))
    return Unconfined(status if status >= 0 else 128 - status, text, timed_out=False)
