"""What a tool is: its arguments, its context, how it is offered and asked for.

Each group of tools is declared where it is implemented, as a tuple (``WORK_TOOLS`` in
:mod:`mcos.runtime.tools`, ``SHELL_TOOLS`` in :mod:`mcos.runtime.shell`, ``MAIL_TOOLS`` in
:mod:`mcos.runtime.mail_tools`, ...); :data:`mcos.runtime.tools.TOOLS` lists the groups by name.
Nothing registers itself on import: a tool is offered only if its group is in that list.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

from mcos.fleet.schema import Agent, DeployTarget, Fleet
from mcos.runtime.client import AgentLink
from mcos.runtime.providers.base import ToolSpec
from mcos.runtime.workspace import Workspace

if TYPE_CHECKING:
    from mcos.runtime.mailboxes import Mailboxes
    from mcos.runtime.service_watch import ServiceWatch

OUTPUT_CAP = 16_000
"""Characters of a tool's output given back to the model; the rest is cut from the middle."""


class CommandResult(Protocol):
    @property
    def exit_status(self) -> int: ...

    @property
    def output(self) -> str: ...

    def report(self) -> str:
        """The status, the output, and whatever stopped it, as the model reads it."""
        ...


class Commands(Protocol):
    """Where an agent's commands run: its sandbox (or, on a machine that opted out, not)."""

    async def run(
        self,
        command: str,
        *,
        timeout_seconds: float | None = None,
        writable_git: tuple[Path, ...] = (),
    ) -> CommandResult:
        """Run ``command`` with ``sh -c`` in the agent's workspace. A repository's ``.git`` is
        read-only to commands, but for ``writable_git`` (``git_commit``'s own)."""
        ...


@dataclass
class ToolContext:
    agent: Agent
    workspace: Workspace
    link: AgentLink
    task_id: int | None = None
    approved: dict[str, Any] | None = None
    """When a parked call is carried out: the action an operator approved. A tool that asks
    for itself (``fetch_url``) does exactly that action, without asking again."""
    fleet: Fleet | None = None
    commands: Commands | None = None
    """Where commands run; ``None`` where none can (tests of tools that run none)."""
    granted: tuple[str, ...] = ()
    """Capabilities restored for now (live grants)."""
    mailboxes: Mailboxes | None = None
    """The agent's mail accounts on this runner (``None``: it owns none here)."""
    approval_id: int | None = None
    """With ``approved``: the approval being carried out."""
    services: ServiceWatch | None = None
    """The services this runner watches, whose remedies it carries out."""

    @property
    def deploy_targets(self) -> tuple[DeployTarget, ...]:
        return self.fleet.deploy_targets if self.fleet is not None else ()

    @property
    def reason(self) -> str:
        """What the control plane is told the action is for."""
        return f"task #{self.task_id}" if self.task_id else "no task"


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


Runner = Callable[[ToolContext, Any], Awaitable[str]]
ActionOf = Callable[[ToolContext, Any], dict[str, Any]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[ToolArgs]
    run: Runner
    capability: str | None = None
    """Offered only to agents with this capability (or ``None``: to every agent)."""
    action: ActionOf | None = None
    """The action asked of the control plane before running; ``None`` when not sensitive."""
    role: str | None = None
    """Offered only to agents of this fleet role (``orchestrator``), or ``None``: to any."""
    asks: bool = False
    """The tool asks the control plane itself, while it runs, with what only running reveals
    (``fetch_url``: the addresses a host resolved to, once per redirect hop). The toolbox runs
    it even when not offered, so that the control plane refuses and records the attempt."""
    mail: bool = False
    """Offered only to an agent that owns a mail account (``[[mail.accounts]]``)."""
    confirms: bool = False
    """Offered only to an agent whose role the escalation table names in a ``confirm_by``
    (the seed's security agent confirms P2s, the orchestrator P1s)."""
    services: bool = False
    """Offered only to an agent that owns a service (``[[services]]``)."""
    moves_task_to: str | None = None
    """The column a successful call moves its task to (``draft_document``: review), so that
    finishing the task does not move it there again."""

    @property
    def spec(self) -> ToolSpec:
        return _spec(self.name, self.description, self.args)


@functools.cache
def _spec(name: str, description: str, args: type[ToolArgs]) -> ToolSpec:
    """Built once per tool, not once per agent: a runner may hold a thousand agents."""
    schema = args.model_json_schema()
    schema.pop("title", None)
    return ToolSpec(name, description, schema)


def cap_output(text: str, limit: int = OUTPUT_CAP) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - limit
    return f"{text[:half]}\n[... {cut} characters cut ...]\n{text[-half:]}"
