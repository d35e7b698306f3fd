"""The built-in tools, each gated twice: never offered without its capability, and every
sensitive call asked of the control plane (``POST /api/v1/actions``) before it runs.

A tool's arguments are a pydantic model, so a malformed call gets an error that names the field.
A tool the agent was not offered but that exists (the model asked anyway) is still put to the
control plane, which refuses it and records the attempt: however it asks, an agent without
``exec`` runs no command.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcos.fleet.schema import Agent
from mcos.runtime import files, netcheck
from mcos.runtime.client import AgentLink
from mcos.runtime.permission import ToolError, ask_before_acting
from mcos.runtime.providers.base import ToolSpec
from mcos.runtime.workspace import Workspace

OUTPUT_CAP = 16_000
"""Characters of a tool's output given back to the model; the rest is cut from the middle."""
SHELL_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ")
"""The only variables a shell command inherits: never the runner's other agents' keys."""


@dataclass
class ToolContext:
    agent: Agent
    workspace: Workspace
    link: AgentLink
    task_id: int | None = None
    approved: dict[str, Any] | None = None
    """When a parked call is carried out: the action an operator approved. A tool that asks
    for itself (``fetch_url``) does exactly that action, without asking again."""

    @property
    def reason(self) -> str:
        """What the control plane is told the action is for."""
        return f"task #{self.task_id}" if self.task_id else "no task"


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadFile(_Args):
    path: str = Field(description="Path relative to your workspace.")


class WriteFile(_Args):
    path: str = Field(description="Path relative to your workspace.")
    content: str = Field(description="The whole new content of the file.")


class RunShell(_Args):
    command: str = Field(min_length=1, description="A shell command, run in your workspace.")
    timeout_seconds: int = Field(60, ge=1, le=600)


class FetchUrl(_Args):
    url: str = Field(
        min_length=1, max_length=8_000, description="An http(s) URL to GET; redirects followed."
    )


class SendMessage(_Args):
    body: str = Field(min_length=1)
    to: str | None = Field(None, description="An agent's name, for a direct message.")
    channel: str | None = Field(None, description="A channel you belong to.")
    kind: Literal["report", "question", "chat", "directive"] = "report"


class CreateTask(_Args):
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    assignee: str | None = None
    priority: Literal["low", "normal", "high", "urgent"] = "normal"


class UpdateTask(_Args):
    task_id: int = Field(ge=1)
    status: Literal["in_progress", "review", "done", "blocked"] | None = None
    comment: str | None = None
    assignee: str | None = Field(None, description="Hand the task off to this agent.")


class RaiseIncident(_Args):
    severity: Literal["P0", "P1", "P2", "P3"]
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(description="What you saw, and the evidence for it.")


class RequestCapability(_Args):
    capability: str
    minutes: float = Field(60, gt=0, le=1440)
    reason: str = Field(min_length=1)


class GivePosition(_Args):
    committee_id: int = Field(ge=1, description="The committee you were asked to sit on.")
    position: Literal["for", "against", "abstain", "veto"] = Field(
        description="'veto' only where the committee's rule is 'veto'; your position is final."
    )
    reasons: str = Field(min_length=1, description="Why: they go into the minutes.")


Runner = Callable[[ToolContext, Any], Awaitable[str]]
ActionOf = Callable[[ToolContext, Any], dict[str, Any]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[_Args]
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

    @property
    def spec(self) -> ToolSpec:
        return _spec(self.name, self.description, self.args)


@functools.cache
def _spec(name: str, description: str, args: type[_Args]) -> ToolSpec:
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


# -- the tools ------------------------------------------------------------------------------


async def _read_file(ctx: ToolContext, args: ReadFile) -> str:
    try:
        text = files.read_text(ctx.workspace.root, args.path)
    except files.UnsafePath as exc:
        raise ToolError(str(exc)) from None
    return cap_output(text)


async def _write_file(ctx: ToolContext, args: WriteFile) -> str:
    try:
        files.write_text(ctx.workspace.root, args.path, args.content)
    except files.UnsafePath as exc:
        raise ToolError(str(exc)) from None
    return f"wrote {len(args.content)} characters to {args.path}"


async def _run_shell(ctx: ToolContext, args: RunShell) -> str:
    env = {k: os.environ[k] for k in SHELL_ENV_KEEP if k in os.environ}
    env["HOME"] = str(ctx.workspace.root)
    process = await asyncio.create_subprocess_shell(
        args.command,
        cwd=ctx.workspace.root,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # so a timeout kills the command's children too
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), args.timeout_seconds)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise ToolError(f"the command ran past {args.timeout_seconds} s and was killed") from None
    text = cap_output(output.decode(errors="replace"))
    return f"exit status {process.returncode}\n{text}"


async def _fetch_url(ctx: ToolContext, args: FetchUrl) -> str:
    if "network" not in ctx.agent.capabilities and ctx.approved is None:
        # Never offered: put to the control plane (which refuses, and records it) before the
        # host is even resolved, so that a lookup cannot carry data out either.
        target = netcheck.parse_url(args.url)
        asked = {"kind": "http.fetch", "host": target.host, "port": target.port}
        await ask_before_acting(ctx.link, asked | {"reason": ctx.reason})
    output = await netcheck.fetch(ctx.link, args.url, reason=ctx.reason, approved=ctx.approved)
    return cap_output(output)


async def _send_message(ctx: ToolContext, args: SendMessage) -> str:
    if (args.to is None) == (args.channel is None):
        raise ToolError("give exactly one of 'to' (an agent) or 'channel'")
    body = args.model_dump(exclude_none=True) | {"task_id": ctx.task_id}
    sent = await ctx.link.tell("POST", "/api/v1/messages", {k: v for k, v in body.items() if v})
    return f"sent (message #{sent['id']})" if sent else "queued: the control plane is down"


async def _create_task(ctx: ToolContext, args: CreateTask) -> str:
    body = args.model_dump(exclude_none=True) | ({"parent_id": ctx.task_id} if ctx.task_id else {})
    created = await ctx.link.tell("POST", "/api/v1/tasks", body)
    return f"created task #{created['id']}" if created else "queued: the control plane is down"


async def _update_task(ctx: ToolContext, args: UpdateTask) -> str:
    done = []
    base = f"/api/v1/tasks/{args.task_id}"
    if args.comment:
        await ctx.link.tell("POST", f"{base}/comments", {"body": args.comment})
        done.append("commented")
    if args.assignee:
        await ctx.link.tell("POST", f"{base}/assign", {"assignee": args.assignee})
        done.append(f"handed to {args.assignee}")
    if args.status:
        await ctx.link.tell("POST", f"{base}/move", {"status": args.status})
        done.append(f"moved to {args.status}")
    if not done:
        raise ToolError("give at least one of status, comment or assignee")
    return f"task #{args.task_id}: " + ", ".join(done)


async def _raise_incident(ctx: ToolContext, args: RaiseIncident) -> str:
    raised = await ctx.link.tell("POST", "/api/v1/incidents", args.model_dump())
    if not raised:
        return "queued: the control plane is down"
    return f"incident #{raised['id']} raised ({raised.get('status', 'recorded')})"


async def _request_capability(ctx: ToolContext, args: RequestCapability) -> str:
    asked = await ctx.link.tell("POST", "/api/v1/approvals", args.model_dump())
    if not asked:
        return "queued: the control plane is down"
    return f"approval #{asked['id']} requested; an operator decides"


async def _give_position(ctx: ToolContext, args: GivePosition) -> str:
    body = {"position": args.position, "reasons": args.reasons}
    c = await ctx.link.ask("POST", f"/api/v1/committees/{args.committee_id}/positions", body)
    return f"committee #{c['id']} ({c['status']}): {c['explanation']}"


def _file_action(ctx: ToolContext, args: WriteFile) -> dict[str, Any]:
    """The absolute path written, for the policy's protected paths; refused paths ask nothing."""
    try:
        path = files.workspace_path(ctx.workspace.root, args.path, writing=True)
    except files.UnsafePath as exc:
        raise ToolError(str(exc)) from None
    return {"kind": "file.write", "paths": [str(path)], "files_touched": 1}


def _shell_action(ctx: ToolContext, args: RunShell) -> dict[str, Any]:
    return {"kind": "shell.exec", "command": args.command, "paths": [str(ctx.workspace.root)]}


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("read_file", "Read a file from your workspace.", ReadFile, _read_file, "read"),
        Tool(
            "write_file",
            "Write a file in your workspace (replaces it).",
            WriteFile,
            _write_file,
            "write",
            _file_action,
        ),
        Tool(
            "run_shell",
            "Run a shell command in your workspace; output is capped.",
            RunShell,
            _run_shell,
            "exec",
            _shell_action,
        ),
        Tool(
            "fetch_url",
            "GET an http(s) URL (redirects followed); the answer's status and text.",
            FetchUrl,
            _fetch_url,
            "network",
            asks=True,
        ),
        Tool(
            "send_message",
            "Message another agent or a channel you belong to.",
            SendMessage,
            _send_message,
        ),
        Tool("create_task", "Create a task on the board.", CreateTask, _create_task, "plan"),
        Tool(
            "update_task",
            "Move a task (in_progress, review, done, blocked), comment on it, or hand it off.",
            UpdateTask,
            _update_task,
        ),
        Tool(
            "raise_incident",
            "Raise an incident (P0 worst to P3); it is confirmed before it spreads.",
            RaiseIncident,
            _raise_incident,
        ),
        Tool(
            "request_capability",
            "Ask an operator to restore a capability for a while, saying why.",
            RequestCapability,
            _request_capability,
        ),
        Tool(
            "give_position",
            "Give your position on a committee you sit on (for, against, abstain), with reasons.",
            GivePosition,
            _give_position,
        ),
    )
}


def offered_tools(agent: Agent) -> list[Tool]:
    """The tools this agent may be offered: never one whose capability or role it lacks."""
    return [
        t
        for t in TOOLS.values()
        if (t.capability is None or t.capability in agent.capabilities)
        and (t.role is None or t.role == agent.role)
    ]


# The orchestrator's fleet-level tools add themselves to TOOLS; imported last, as they build on
# the definitions above (and so work whichever of the two modules is imported first).
import mcos.runtime.orchestration_tools  # noqa: E402, F401
