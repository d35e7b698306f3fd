"""``run_shell``: a command in the agent's sandbox, asked of the control plane first.

The policy is asked with the command's text (recorded for the audit); what the command can do
is held by the sandbox (:mod:`mcos.runtime.commands`): its workspace only, no secrets, no
network but through the egress proxy, no commit but through ``git_commit``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mcos.contract.vocab import ActionKind
from mcos.runtime.permission import ToolError
from mcos.runtime.tooling import Tool, ToolArgs, ToolContext, cap_output


class RunShell(ToolArgs):
    command: str = Field(min_length=1, description="A shell command, run in your workspace.")
    timeout_seconds: int = Field(60, ge=1, le=600)


async def _run_shell(ctx: ToolContext, args: RunShell) -> str:
    if ctx.commands is None:
        raise ToolError("no commands can run here, so nothing ran")
    result = await ctx.commands.run(args.command, timeout_seconds=args.timeout_seconds)
    return cap_output(result.report())


def _shell_action(ctx: ToolContext, args: RunShell) -> dict[str, Any]:
    return {
        "kind": ActionKind.SHELL_EXEC,
        "command": args.command,
        "paths": [str(ctx.workspace.root)],
    }


SHELL_TOOLS: tuple[Tool, ...] = (
    Tool(
        "run_shell",
        "Run a shell command in your workspace's sandbox (no network unless you hold it; "
        "commit with git_commit, deploy with deploy); output is capped.",
        RunShell,
        _run_shell,
        "exec",
        _shell_action,
    ),
)
