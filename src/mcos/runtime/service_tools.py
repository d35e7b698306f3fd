"""``restart_service`` and ``rollback_service``: the owning agent's remedies for a service.

Offered only to an agent that owns a service (``[[services]]``) and holds ``exec``. The call
asks ``service.restart`` / ``service.rollback`` with the runbook's own command: the control
plane decides by the remedy's policy (allowed, an operator's approval first, or refused). Once
allowed, the runner of the service's machine carries out the runbook's command, never a
command the model wrote, and probes the service again.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mcos.fleet.services import NAME_PATTERN
from mcos.runtime.permission import ToolError
from mcos.runtime.service_watch import NotWatchedHere
from mcos.runtime.tooling import ActionOf, Tool, ToolArgs, ToolContext, cap_output


class Remedy(ToolArgs):
    service: str = Field(pattern=NAME_PATTERN, description="The service, by its name.")


def _action(which: str) -> ActionOf:
    def action(ctx: ToolContext, args: Remedy) -> dict[str, Any]:
        service = ctx.fleet.service(args.service) if ctx.fleet is not None else None
        if service is None:
            raise ToolError(f"there is no service named {args.service!r}")
        remedy = service.runbook.remedy(which)
        # Without a remedy, still asked: the control plane refuses it and records the attempt.
        command = remedy.command if remedy is not None else "(none in the runbook)"
        return {"kind": f"service.{which}", "target": service.name, "command": command}

    return action


def _run(which: str) -> Any:
    async def run(ctx: ToolContext, args: Remedy) -> str:
        if ctx.services is None:
            raise ToolError(f"this runner watches no service, so it cannot {which} one")
        try:
            ran = await ctx.services.carry_out(
                args.service, which, by="agent", approval_id=ctx.approval_id
            )
        except NotWatchedHere:
            raise ToolError(
                f"service {args.service!r} is not watched by this runner (another machine's)"
            ) from None
        said = "done" if ran.ok else "failed"
        return cap_output(
            f"{which} of {args.service} {said}:\n{ran.report()}\nThe watcher probes it again "
            "now; its state changes on the board when it is up."
        )

    return run


SERVICE_TOOLS: tuple[Tool, ...] = (
    Tool(
        "restart_service",
        "Restart a service you own with its runbook's restart command (asked first; its "
        "policy may need an operator's approval).",
        Remedy,
        _run("restart"),
        "exec",
        _action("restart"),
        services=True,
    ),
    Tool(
        "rollback_service",
        "Roll a service you own back with its runbook's rollback command (asked first).",
        Remedy,
        _run("rollback"),
        "exec",
        _action("rollback"),
        services=True,
    ),
)
