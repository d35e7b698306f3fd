"""The orchestrator's fleet-level tools, offered only to agents whose role is ``orchestrator``.

Each is a thin call over the agent's link returning compact text for the model: questions
(the fleet, the board, a routing decision, a nudge, a suspension, an incident decision) are
asked now; the directive and the reassignment are told (queued if the control plane is down).
The control plane refuses all but reading to any other agent, so offering is not the guard.
They are part of :data:`mcos.runtime.tools.TOOLS`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mcos.contract import paths
from mcos.contract.vocab import ORCHESTRATOR, TASK_STATUSES, PriorityName
from mcos.domain.kanban import TaskStatus
from mcos.runtime.client import AgentLink
from mcos.runtime.permission import ToolError
from mcos.runtime.tooling import Tool, ToolArgs, ToolContext, cap_output

OPEN = tuple(status for status in TASK_STATUSES if status != TaskStatus.DONE)
"""The columns of work not finished, in board order."""


class NoArgs(ToolArgs):
    pass


class ReadBoard(ToolArgs):
    assignee: str | None = Field(None, description="Only this agent's tasks.")


class RouteRequest(ToolArgs):
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    kind: str | None = Field(None, description="Kind of work, such as legal-document.")
    priority: PriorityName = "normal"
    capabilities: list[str] = Field(default_factory=list, description="Capabilities it needs.")
    dry_run: bool = Field(False, description="Only decide and explain; create no task.")


class SendDirective(ToolArgs):
    to: str = Field(description="The agent to direct.")
    body: str = Field(min_length=1)


class ReassignTask(ToolArgs):
    task_id: int = Field(ge=1)
    assignee: str = Field(description="The agent to take the task over.")
    reason: str = Field(min_length=1, description="Why, for the task's history.")


class AgentReason(ToolArgs):
    agent: str
    reason: str = Field(min_length=1)


class IncidentDecision(ToolArgs):
    incident_id: int = Field(ge=1)
    reason: str = Field(min_length=1, description="Your evidence, for the record.")


class OpenCommittee(ToolArgs):
    title: str = Field(min_length=1, max_length=300)
    question: str = Field(min_length=1, description="The decision put to the committee.")
    members: list[str] = Field(min_length=1, description="The agents who give a position.")
    human: bool = Field(False, description="Whether the operator votes too.")
    quorum: int | None = Field(None, ge=1, description="Positions needed (default: a majority).")
    rule: Literal["majority", "unanimity", "veto"] = "majority"
    approval_id: int | None = Field(None, ge=1, description="A pending approval it decides.")


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return f"{seconds:.0f}s ago" if seconds < 120 else f"{seconds / 60:.0f}m ago"


async def _fleet_status(ctx: ToolContext, _: NoArgs) -> str:
    agents = (await ctx.link.ask("GET", paths.AGENTS))["agents"]
    lines = []
    for a in agents:
        gauge = f"{a['gauge']['fraction'] * 100:.0f}%" if a["gauge"] else "-"
        task = f"task #{a['current_task']}" if a["current_task"] else "no task"
        paused = f", PAUSED: {a['paused_reason']}" if a["paused"] else ""
        lines.append(
            f"{a['name']} ({a['role']}): {a['liveness']}, context {gauge}, {task}, "
            f"heartbeat {_ago(a['seconds_since_heartbeat'])}{paused}"
        )
    return cap_output("\n".join(lines) or "no agents")


async def _read_board(ctx: ToolContext, args: ReadBoard) -> str:
    params = {"assignee": args.assignee} if args.assignee else None
    tasks = (await ctx.link.ask("GET", paths.TASKS, params=params))["tasks"]
    out = []
    for status in OPEN:
        column = [t for t in tasks if t["status"] == status]
        if column:
            out.append(f"{status} ({len(column)}):")
            out += [
                f"  #{t['id']} {t['title']} — {t['assignee'] or 'unassigned'} [{t['priority']}]"
                for t in column
            ]
    return cap_output("\n".join(out) or "no open tasks")


async def _route_request(ctx: ToolContext, args: RouteRequest) -> str:
    result = await ctx.link.ask("POST", paths.ROUTE, args.model_dump(exclude_none=True))
    task = result["task"]
    if task is None:
        head = "dry run: nothing created"
    elif result["agent"] is None:
        head = f"task #{task['id']} created, left in the inbox"
    else:
        head = f"task #{task['id']} created and assigned to {result['agent']}"
    return f"{head}\n{result['explanation']}"


async def _send_directive(ctx: ToolContext, args: SendDirective) -> str:
    body: dict[str, Any] = {"to": args.to, "kind": "directive", "body": args.body}
    if ctx.task_id:
        body["task_id"] = ctx.task_id
    sent = await ctx.link.tell("POST", paths.MESSAGES, body)
    return f"directive sent to {args.to} (message #{sent['id']})" if sent else "queued"


async def _reassign_task(ctx: ToolContext, args: ReassignTask) -> str:
    moved = await ctx.link.tell("POST", paths.assign(args.task_id), {"assignee": args.assignee})
    await ctx.link.tell(
        "POST", paths.comments(args.task_id), {"body": f"Reassigned: {args.reason}"}
    )
    if moved is None:
        return "queued: the control plane is down"
    return f"task #{args.task_id} reassigned to {moved['assignee']} ({moved['status']})"


async def _nudge_agent(ctx: ToolContext, args: AgentReason) -> str:
    nudged = await ctx.link.ask("POST", paths.nudge(args.agent), {"reason": args.reason})
    return f"nudged {args.agent} (event {nudged['seq']})"


async def _suspend_agent(ctx: ToolContext, args: AgentReason) -> str:
    if args.agent == ctx.agent.name:
        raise ToolError("you may not suspend yourself")
    done = await ctx.link.ask("POST", paths.suspend(args.agent), {"reason": args.reason})
    return f"{args.agent} is {done['liveness']}: it makes no model call until resumed"


async def _resume_agent(ctx: ToolContext, args: AgentReason) -> str:
    done = await ctx.link.ask("POST", paths.resume(args.agent), {"reason": args.reason})
    return f"{args.agent} resumed ({done['liveness']})"


async def _decide_incident(
    link: AgentLink, verb: Literal["confirm", "dismiss"], args: IncidentDecision
) -> str:
    incident = await link.ask(
        "POST", paths.decide_incident(args.incident_id, verb), {"comment": args.reason}
    )
    waiting = incident.get("waiting_for") or []
    more = f"; still waiting for {', '.join(waiting)}" if waiting else ""
    return f"incident #{args.incident_id} {incident['severity']}: {incident['status']}{more}"


async def _open_committee(ctx: ToolContext, args: OpenCommittee) -> str:
    body = args.model_dump(exclude_none=True)
    if ctx.task_id is not None:
        body["task_id"] = ctx.task_id
    opened = await ctx.link.ask("POST", paths.COMMITTEES, body)
    voters = ", ".join(opened["voters"])
    return (
        f"committee #{opened['id']} opened ({opened['rule']}, quorum {opened['quorum']} of "
        f"{voters}); each member has a directive to give a position"
    )


async def _confirm_incident(ctx: ToolContext, args: IncidentDecision) -> str:
    return await _decide_incident(ctx.link, "confirm", args)


async def _dismiss_incident(ctx: ToolContext, args: IncidentDecision) -> str:
    return await _decide_incident(ctx.link, "dismiss", args)


ORCHESTRATION_TOOLS = tuple(
    Tool(name, description, args, run, role=ORCHESTRATOR)
    for name, description, args, run in (
        (
            "fleet_status",
            "Every agent's liveness, context gauge, current task and last heartbeat.",
            NoArgs,
            _fleet_status,
        ),
        ("read_board", "Open tasks by status (inbox to blocked).", ReadBoard, _read_board),
        (
            "route_request",
            "Route a request to the agent whose role and capabilities fit, by the fleet's "
            "routing rules; creates the task (unless dry_run) and says why.",
            RouteRequest,
            _route_request,
        ),
        ("send_directive", "Send a directive to an agent.", SendDirective, _send_directive),
        (
            "reassign_task",
            "Move a task to another agent (from a stalled or offline one), saying why.",
            ReassignTask,
            _reassign_task,
        ),
        ("nudge_agent", "Wake an agent now, saying why.", AgentReason, _nudge_agent),
        (
            "suspend_agent",
            "Suspend a misbehaving agent: it makes no model call until resumed.",
            AgentReason,
            _suspend_agent,
        ),
        ("resume_agent", "Resume a suspended agent.", AgentReason, _resume_agent),
        (
            "open_committee",
            "Put a decision to a committee of agents (and the operator, with human=true): "
            "each gives a position with reasons, and the rule and quorum decide it.",
            OpenCommittee,
            _open_committee,
        ),
    )
)


INCIDENT_TOOLS = tuple(
    Tool(name, description, IncidentDecision, run, confirms=True)
    for name, description, run in (
        (
            "confirm_incident",
            "Confirm an incident you are an approver of, with your evidence.",
            _confirm_incident,
        ),
        (
            "dismiss_incident",
            "Dismiss an incident you are an approver of (a false alarm), saying why.",
            _dismiss_incident,
        ),
    )
)
"""Offered to every role the escalation table names in a ``confirm_by`` (security confirms
P2s): the control plane still accepts a decision only from an approver of that incident."""
