"""Running a model's tool call: parse, validate, ask the control plane, run, and answer.

Whatever goes wrong becomes a tool result the model can read (``is_error``): an unknown tool,
arguments that are not JSON or miss a field, a refusal by policy, a control plane that cannot
be asked (then nothing runs: the runtime fails closed). A call that needs an approval is parked:
the model hears that it waits, the task waits, and the agent goes on with its other work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import ValidationError

from mcos import telemetry
from mcos.client import ApiError, Unreachable
from mcos.contract import paths
from mcos.fleet.schema import Agent, Fleet
from mcos.runtime.client import AgentLink
from mcos.runtime.mailboxes import Mailboxes
from mcos.runtime.permission import LocalPolicy, Parked, Refused, ToolError, ask_before_acting
from mcos.runtime.providers.base import ToolCall, ToolSpec, Turn
from mcos.runtime.service_watch import ServiceWatch
from mcos.runtime.tooling import Commands, Tool, ToolContext
from mcos.runtime.tools import TOOLS, offered_tools
from mcos.runtime.workspace import Workspace

log = logging.getLogger("mcos.runtime")


@dataclass(frozen=True)
class ToolResult:
    turn: Turn
    parked: dict[str, Any] | None = None
    """Set when the call waits for an approval: what to carry out once it is decided."""
    refused: str | None = None
    """Set when the control plane's policy refused the call: why."""

    @property
    def failed(self) -> bool:
        return self.turn.is_error


_tracer = telemetry.tracer("mcos.runtime")


def _error(call: ToolCall, message: str) -> ToolResult:
    return ToolResult(Turn("tool", message, tool_call_id=call.id, is_error=True))


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
    )


class Toolbox:
    def __init__(
        self,
        agent: Agent,
        workspace: Workspace,
        link: AgentLink,
        granted: Callable[[], Collection[str]] = tuple,
        *,
        fleet: Fleet | None = None,
        commands: Commands | None = None,
        mailboxes: Mailboxes | None = None,
        services: ServiceWatch | None = None,
        policy_version: Callable[[], str | None] | None = None,
    ) -> None:
        self.agent, self.workspace, self.link = agent, workspace, link
        self.local = (
            LocalPolicy(fleet, agent, policy_version)
            if fleet is not None and policy_version is not None
            else None
        )
        """Decides here what the fleet file alone allows (see :class:`LocalPolicy`)."""
        self.fleet, self.commands, self.mailboxes = fleet, commands, mailboxes
        self.services = services
        self.owns_mail = fleet is not None and bool(fleet.mail.owned_by(agent.name))
        self.confirms = fleet is not None and any(
            agent.role in rule.confirm_by for rule in fleet.escalation.values()
        )
        self.owns_services = fleet is not None and any(
            fleet.owner_of(s) == agent.name for s in fleet.services
        )
        self._granted = granted
        """The capabilities an operator restored for now (the heartbeat says which, until
        when): their tools are offered for exactly that time."""
        self._offers: dict[frozenset[str], tuple[dict[str, Tool], list[ToolSpec]]] = {}

    def _offer(self) -> tuple[dict[str, Tool], list[ToolSpec]]:
        granted = frozenset(self._granted())
        if granted not in self._offers:
            offered = offered_tools(
                self.agent,
                granted,
                owns_mail=self.owns_mail,
                owns_services=self.owns_services,
                confirms=self.confirms,
            )
            tools = {t.name: t for t in offered}
            self._offers[granted] = (tools, [t.spec for t in tools.values()])
        return self._offers[granted]

    @property
    def offered(self) -> dict[str, Tool]:
        """The tools offered now, by name."""
        return self._offer()[0]

    def specs(self) -> list[ToolSpec]:
        return self._offer()[1]

    def _context(
        self,
        task_id: int | None,
        approved: dict[str, Any] | None = None,
        approval_id: int | None = None,
    ) -> ToolContext:
        return ToolContext(
            self.agent,
            self.workspace,
            self.link,
            task_id,
            approved=approved,
            fleet=self.fleet,
            commands=self.commands,
            granted=tuple(self._granted()),
            mailboxes=self.mailboxes,
            approval_id=approval_id,
            services=self.services,
        )

    def _parse(self, tool: Tool, call: ToolCall) -> Any:
        try:
            raw = orjson.loads(call.arguments or "{}")
        except orjson.JSONDecodeError as exc:
            raise ToolError(f"the arguments of {call.name} are not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ToolError(f"the arguments of {call.name} must be a JSON object")
        try:
            return tool.args.model_validate(raw)
        except ValidationError as exc:
            raise ToolError(f"bad arguments for {call.name}: {_problems(exc)}") from None

    def moves_task_to(self, name: str) -> str | None:
        """Where a successful call of tool ``name`` moved its task, if it moves it."""
        tool = TOOLS.get(name)
        return tool.moves_task_to if tool is not None else None

    async def run(self, call: ToolCall, task_id: int | None) -> ToolResult:
        """Run one tool call, traced as a GenAI ``execute_tool`` span (mcos.telemetry)."""
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.agent.name": self.agent.name,
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
        }
        with _tracer.start_as_current_span(
            f"execute_tool {call.name}", kind=SpanKind.INTERNAL, attributes=attributes
        ) as span:
            result = await self._run(call, task_id)
            if result.failed:
                span.set_status(StatusCode.ERROR, result.refused or "the tool call failed")
                span.set_attribute("error.type", "refused" if result.refused else "tool_error")
            return result

    async def _run(self, call: ToolCall, task_id: int | None) -> ToolResult:
        tool = TOOLS.get(call.name)
        if tool is None:
            known = ", ".join(self.offered) or "none"
            return _error(call, f"there is no tool named {call.name!r}; your tools are: {known}")
        context = self._context(task_id)
        try:
            args = self._parse(tool, call)
            if tool.action is not None:
                await ask_before_acting(
                    self.link, tool.action(context, args) | {"reason": context.reason}, self.local
                )
            elif tool.name not in self.offered and not tool.asks:
                needs = (
                    f"the {tool.capability!r} capability"
                    if tool.capability is not None
                    else f"the role {tool.role!r}"
                    if tool.role is not None
                    else "a role the escalation table names as a confirmer"
                )
                raise ToolError(f"{call.name} needs {needs}, which you do not have")
            # Nothing acts before what led to it is on disk: the agent's state holding this
            # call (a restart does not run it again from an older one), its usage, ``acted``.
            await self.link.committed()
            output = await tool.run(context, args)
        except Parked as parked:
            return self._parked(call, parked, task_id)
        except Refused as exc:
            return ToolResult(_error(call, str(exc)).turn, refused=str(exc))
        except ToolError as exc:
            return _error(call, str(exc))
        except ApiError as exc:
            return _error(call, f"the control plane refused: {exc.message}")
        except Unreachable:
            return _error(call, "the control plane cannot be reached, so nothing was done")
        except Exception as exc:  # a tool's own failure is the model's to read, not the loop's
            log.exception("%s: %s failed", self.agent.name, call.name)
            return _error(call, f"{call.name} failed: {type(exc).__name__}: {exc}")
        return ToolResult(Turn("tool", output, tool_call_id=call.id))

    def _parked(self, call: ToolCall, parked: Parked, task_id: int | None) -> ToolResult:
        """The call waits for an approval: the model hears so, and the runtime keeps what to
        carry out once it is decided (the exact action asked about)."""
        waiting = ", ".join(parked.approvers) or "an operator"
        text = (
            f"this needs approval #{parked.approval_id} from {waiting}: {parked.reason}. "
            "Nothing was done yet; the task waits for the decision and you will be told."
        )
        saved = {
            "approval_id": parked.approval_id,
            "call": [call.id, call.name, parked.arguments or call.arguments],
            "action": parked.action,
            "task_id": task_id,
        }
        return ToolResult(Turn("tool", text, tool_call_id=call.id), saved)

    async def resume(self, parked: dict[str, Any]) -> tuple[Turn, str | None] | None:
        """A parked call's outcome once its approval is decided, as a user turn, with why it was
        refused if it was (denied, expired, refused when carried out); ``None`` while pending."""
        approval_id = parked["approval_id"]
        approval = await self.link.ask("GET", paths.approval(approval_id))
        status = approval["status"]
        if status == "pending":
            return None
        call = ToolCall(*parked["call"])
        if status != "approved":
            reasons = "; ".join(d.get("comment") or "" for d in approval.get("decisions", ()))
            said = f"Approval #{approval_id} for {call.name} was {status}. {reasons}".strip()
            return Turn("user", said), said
        tool = TOOLS[call.name]
        context = self._context(parked["task_id"], parked["action"], approval_id)
        refused: str | None = None
        try:
            args = self._parse(tool, call)
            await self.link.ask(
                "POST", paths.ACTIONS, parked["action"] | {"approval_id": approval_id}
            )
            await self.link.committed()
            output = await tool.run(context, args)
        except Refused as exc:
            output = refused = f"it was refused: {exc}"
        except ToolError as exc:
            output = f"it failed: {exc}"
        except Parked as again:  # only a tool asking again for more than was approved
            output = f"it needs approval #{again.approval_id} too: {again.reason}"
        except ApiError as exc:
            output = refused = f"the control plane refused to carry it out: {exc.message}"
        except Unreachable:
            raise  # asked again at the next wake; the approval stays waiting to be carried out
        except Exception as exc:
            log.exception("%s: %s failed", self.agent.name, call.name)
            output = f"it failed: {type(exc).__name__}: {exc}"
        said = f"Approval #{approval_id} was approved and {call.name} ran:\n{output}"
        return Turn("user", said), refused
