"""The built-in tools, each gated twice: never offered without its capability, and every
sensitive call asked of the control plane (``POST /api/v1/actions``) before it runs.

A tool's arguments are a pydantic model, so a malformed call gets an error that names the field.
A tool the agent was not offered but that exists (the model asked anyway) is still put to the
control plane, which refuses it and records the attempt: however it asks, an agent without
``exec`` runs no command.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

from pydantic import Field

from mcos.contract import paths
from mcos.contract.vocab import ActionKind, MessageKindName, PriorityName, Severity
from mcos.fleet.schema import Agent
from mcos.runtime import files, netcheck
from mcos.runtime.artifact_tools import ARTIFACT_TOOLS
from mcos.runtime.changes import CHANGE_TOOLS
from mcos.runtime.finance_tools import FINANCE_TOOLS
from mcos.runtime.legal_tools import LEGAL_TOOLS
from mcos.runtime.mail_tools import MAIL_TOOLS
from mcos.runtime.orchestration_tools import INCIDENT_TOOLS, ORCHESTRATION_TOOLS
from mcos.runtime.permission import ToolError, ask_before_acting
from mcos.runtime.registry_tools import REGISTRY_TOOLS
from mcos.runtime.service_tools import SERVICE_TOOLS
from mcos.runtime.shell import SHELL_TOOLS
from mcos.runtime.tooling import Tool, ToolArgs, ToolContext, cap_output


class ReadFile(ToolArgs):
    path: str = Field(description="Path relative to your workspace.")


class WriteFile(ToolArgs):
    path: str = Field(description="Path relative to your workspace.")
    content: str = Field(description="The whole new content of the file.")


class FetchUrl(ToolArgs):
    url: str = Field(
        min_length=1, max_length=8_000, description="An http(s) URL to GET; redirects followed."
    )


class SendMessage(ToolArgs):
    body: str = Field(min_length=1)
    to: str | None = Field(None, description="An agent's name, for a direct message.")
    channel: str | None = Field(None, description="A channel you belong to.")
    kind: MessageKindName = "report"


class CreateTask(ToolArgs):
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    assignee: str | None = None
    priority: PriorityName = "normal"


class UpdateTask(ToolArgs):
    task_id: int = Field(ge=1)
    status: Literal["in_progress", "review", "done", "blocked"] | None = None
    comment: str | None = None
    assignee: str | None = Field(None, description="Hand the task off to this agent.")


class RaiseIncident(ToolArgs):
    severity: Severity
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(description="What you saw, and the evidence for it.")


class RequestCapability(ToolArgs):
    capability: str
    minutes: float = Field(60, gt=0, le=1440)
    reason: str = Field(min_length=1)


class GivePosition(ToolArgs):
    committee_id: int = Field(ge=1, description="The committee you were asked to sit on.")
    position: Literal["for", "against", "abstain", "veto"] = Field(
        description="'veto' only where the committee's rule is 'veto'; your position is final."
    )
    reasons: str = Field(min_length=1, description="Why: they go into the minutes.")


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


async def _fetch_url(ctx: ToolContext, args: FetchUrl) -> str:
    if "network" not in ctx.agent.capabilities and ctx.approved is None:
        # Never offered: put to the control plane (which refuses, and records it) before the
        # host is even resolved, so that a lookup cannot carry data out either.
        target = netcheck.parse_url(args.url)
        asked = {"kind": ActionKind.HTTP_FETCH, "host": target.host, "port": target.port}
        await ask_before_acting(ctx.link, asked | {"reason": ctx.reason})
    output = await netcheck.fetch(ctx.link, args.url, reason=ctx.reason, approved=ctx.approved)
    return cap_output(output)


async def _send_message(ctx: ToolContext, args: SendMessage) -> str:
    if (args.to is None) == (args.channel is None):
        raise ToolError("give exactly one of 'to' (an agent) or 'channel'")
    body = args.model_dump(exclude_none=True) | {"task_id": ctx.task_id}
    sent = await ctx.link.tell("POST", paths.MESSAGES, {k: v for k, v in body.items() if v})
    return f"sent (message #{sent['id']})" if sent else "queued: the control plane is down"


async def _create_task(ctx: ToolContext, args: CreateTask) -> str:
    body = args.model_dump(exclude_none=True) | ({"parent_id": ctx.task_id} if ctx.task_id else {})
    created = await ctx.link.tell("POST", paths.TASKS, body)
    return f"created task #{created['id']}" if created else "queued: the control plane is down"


async def _update_task(ctx: ToolContext, args: UpdateTask) -> str:
    done = []
    if args.comment:
        await ctx.link.tell("POST", paths.comments(args.task_id), {"body": args.comment})
        done.append("commented")
    if args.assignee:
        await ctx.link.tell("POST", paths.assign(args.task_id), {"assignee": args.assignee})
        done.append(f"handed to {args.assignee}")
    if args.status:
        await ctx.link.tell("POST", paths.move(args.task_id), {"status": args.status})
        done.append(f"moved to {args.status}")
    if not done:
        raise ToolError("give at least one of status, comment or assignee")
    return f"task #{args.task_id}: " + ", ".join(done)


async def _raise_incident(ctx: ToolContext, args: RaiseIncident) -> str:
    raised = await ctx.link.tell("POST", paths.INCIDENTS, args.model_dump())
    if not raised:
        return "queued: the control plane is down"
    return f"incident #{raised['id']} raised ({raised.get('status', 'recorded')})"


async def _request_capability(ctx: ToolContext, args: RequestCapability) -> str:
    asked = await ctx.link.tell("POST", paths.APPROVALS, args.model_dump())
    if not asked:
        return "queued: the control plane is down"
    return f"approval #{asked['id']} requested; an operator decides"


async def _give_position(ctx: ToolContext, args: GivePosition) -> str:
    body = {"position": args.position, "reasons": args.reasons}
    c = await ctx.link.ask("POST", paths.positions(args.committee_id), body)
    return f"committee #{c['id']} ({c['status']}): {c['explanation']}"


def _file_action(ctx: ToolContext, args: WriteFile) -> dict[str, Any]:
    """The absolute path written, for the policy's protected paths; refused paths ask nothing."""
    try:
        path = files.workspace_path(ctx.workspace.root, args.path, writing=True)
    except files.UnsafePath as exc:
        raise ToolError(str(exc)) from None
    return {"kind": ActionKind.FILE_WRITE, "paths": [str(path)], "files_touched": 1}


WORK_TOOLS: tuple[Tool, ...] = (
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


def tools_by_name(*groups: tuple[Tool, ...]) -> dict[str, Tool]:
    """The declared tool groups as one table; a name declared twice is a mistake, not an
    override, so it stops the import instead of one tool silently hiding another."""
    table: dict[str, Tool] = {}
    for tool in (tool for group in groups for tool in group):
        if tool.name in table:
            raise ValueError(f"two tools are named {tool.name!r}")
        table[tool.name] = tool
    return table


TOOLS: dict[str, Tool] = tools_by_name(
    WORK_TOOLS,
    ARTIFACT_TOOLS,
    SHELL_TOOLS,
    CHANGE_TOOLS,
    ORCHESTRATION_TOOLS,
    INCIDENT_TOOLS,
    MAIL_TOOLS,
    REGISTRY_TOOLS,
    FINANCE_TOOLS,
    SERVICE_TOOLS,
    LEGAL_TOOLS,
)
"""Every tool the runtime knows, by name; an agent is offered those it may use."""


def offered_tools(
    agent: Agent,
    granted: Collection[str] = (),
    *,
    owns_mail: bool = False,
    confirms: bool = False,
    owns_services: bool = False,
) -> list[Tool]:
    """The tools this agent may be offered: never one whose capability or role it lacks.

    ``granted``: capabilities an operator restored for a while (live grants); their tools are
    offered while the grant lasts, and the control plane still decides every call.
    ``owns_mail``: the agent owns a mail account, so the mail tools are offered.
    ``confirms``: the escalation table names the agent's role as a confirmer, so the tools that
    confirm or dismiss an incident are offered.
    ``owns_services``: the agent owns a service, so its remedies are offered.
    """
    held = set(agent.capabilities) | set(granted)
    return [
        t
        for t in TOOLS.values()
        if (t.capability is None or t.capability in held)
        and (t.role is None or t.role == agent.role)
        and (owns_mail or not t.mail)
        and (confirms or not t.confirms)
        and (owns_services or not t.services)
    ]
