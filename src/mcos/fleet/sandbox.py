"""Where an agent's shell commands run: the fleet's ``[sandbox]`` limits and each agent's
``[agents.sandbox]``, merged by ``Fleet.sandbox_for`` into one :class:`Sandbox`.

The runtime's sandbox (bubblewrap) makes the agent's workspace writable and shows nothing else
of the machine but what is listed here: ``read_only`` and ``read_write`` folders the agent's
commands may see. A protected path is never writable through them: one listed read-write inside
a protected path is refused when the fleet file loads, and protected folders inside a listed
folder come back in :attr:`Sandbox.masked`, to be hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from mcos.domain.paths import is_within, literal_root, matches, normalise_path
from mcos.fleet.guard import Guard
from mcos.fleet.model import FleetModel

SandboxKind = Literal["bubblewrap", "none"]


class SandboxLimits(FleetModel):
    """The fleet's ``[sandbox]``: what one shell command may use, unless its agent overrides."""

    timeout_seconds: int = Field(600, ge=1, le=86_400)
    """The longest a command may run, whatever timeout the model asks for."""
    memory_mb: int = Field(4_096, ge=16)
    """Memory a command (with its children) may use; a Next.js build wants about 2-4 GB."""
    max_processes: int = Field(512, ge=1)
    """Processes and threads a command may have at once (a fork bomb stops here)."""
    output_kb: int = Field(1_024, ge=1)
    """Output kept from a command; the model is shown at most 16,000 characters of it."""
    file_size_mb: int = Field(1_024, ge=1)
    """The largest file a command may write."""


class AgentSandbox(FleetModel):
    """An agent's ``[agents.sandbox]``: limits that replace the fleet's, and folders to see."""

    timeout_seconds: int | None = Field(None, ge=1, le=86_400)
    """Replaces the fleet's ``[sandbox] timeout_seconds`` for this agent."""
    memory_mb: int | None = Field(None, ge=16)
    """Replaces the fleet's ``[sandbox] memory_mb`` for this agent."""
    max_processes: int | None = Field(None, ge=1)
    """Replaces the fleet's ``[sandbox] max_processes`` for this agent."""
    output_kb: int | None = Field(None, ge=1)
    """Replaces the fleet's ``[sandbox] output_kb`` for this agent."""
    file_size_mb: int | None = Field(None, ge=1)
    """Replaces the fleet's ``[sandbox] file_size_mb`` for this agent."""
    read_only: tuple[str, ...] = ()
    """Absolute folders or files the agent's commands may read (``/srv/fibreflow/staging``)."""
    read_write: tuple[str, ...] = ()
    """Absolute folders the agent's commands may also write; never inside a protected path."""

    @field_validator("read_only", "read_write")
    @classmethod
    def _absolute(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            plain_absolute(path)
        return value

    @field_validator("read_write")
    @classmethod
    def _not_everything(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "/" in value:
            raise ValueError(
                "read_write = ['/'] would make the whole machine writable; list the folders "
                "the agent's commands must write"
            )
        return value


def plain_absolute(path: str) -> str:
    """``path`` if it is absolute and written plainly (no ``..``); ``ValueError`` with the fix."""
    normal = normalise_path(path)
    if normal is None:
        raise ValueError(
            f"{path!r} is not an absolute path; give the full path, such as "
            "'/srv/fibreflow/staging'"
        )
    if normal != (path.rstrip("/") or "/") or ".." in path.split("/"):
        raise ValueError(f"{path!r} is not written plainly; write it as {normal!r}")
    return path


@dataclass(frozen=True)
class Sandbox:
    """What one agent's commands run in, all sources merged (``Fleet.sandbox_for``)."""

    kind: SandboxKind
    """``bubblewrap``, or ``none``: the machine opted out and commands run unconfined."""
    network: bool
    """Whether commands may reach the network (the agent holds ``network``), through the
    runtime's egress proxy, which asks the control plane for every connection."""
    timeout_seconds: int
    memory_mb: int
    max_processes: int
    output_kb: int
    file_size_mb: int
    read_only: tuple[str, ...]
    """Extra absolute paths shown read-only."""
    read_write: tuple[str, ...]
    """Extra absolute folders shown writable (the workspace always is)."""
    masked: tuple[str, ...]
    """Protected folders that lie inside ``read_only`` or ``read_write``: hide them."""


def plan_sandbox(
    limits: SandboxLimits,
    agent: AgentSandbox,
    guard: Guard,
    *,
    kind: SandboxKind,
    network: bool,
) -> Sandbox:
    """The fleet's limits with the agent's overrides, its folders, and what to mask in them."""
    binds = (*agent.read_only, *agent.read_write)
    masked = tuple(
        dict.fromkeys(
            root
            for root in (literal_root(p) for p in guard.protected_paths)
            if any(is_within(root, bind) for bind in binds)
        )
    )
    return Sandbox(
        kind=kind,
        network=network,
        timeout_seconds=agent.timeout_seconds or limits.timeout_seconds,
        memory_mb=agent.memory_mb or limits.memory_mb,
        max_processes=agent.max_processes or limits.max_processes,
        output_kb=agent.output_kb or limits.output_kb,
        file_size_mb=agent.file_size_mb or limits.file_size_mb,
        read_only=agent.read_only,
        read_write=agent.read_write,
        masked=masked,
    )


def protected_binds(agent: AgentSandbox, guard: Guard) -> list[tuple[int, str, str]]:
    """Each ``read_write`` path inside a protected path: its index, the path and the pattern."""
    found = []
    for i, path in enumerate(agent.read_write):
        for pattern in guard.protected_paths:
            if matches(path, pattern):
                found.append((i, path, pattern))
                break
    return found
