"""``run_shell``: a command in the agent's sandbox, asked of the control plane first."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from pydantic import Field

from mcos.runtime.permission import ToolError
from mcos.runtime.tooling import Tool, ToolArgs, ToolContext, cap_output

SHELL_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ")
"""The only variables a shell command inherits: never the runner's other agents' keys."""


class RunShell(ToolArgs):
    command: str = Field(min_length=1, description="A shell command, run in your workspace.")
    timeout_seconds: int = Field(60, ge=1, le=600)


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


def _shell_action(ctx: ToolContext, args: RunShell) -> dict[str, Any]:
    return {"kind": "shell.exec", "command": args.command, "paths": [str(ctx.workspace.root)]}


SHELL_TOOLS: tuple[Tool, ...] = (
    Tool(
        "run_shell",
        "Run a shell command in your workspace; output is capped.",
        RunShell,
        _run_shell,
        "exec",
        _shell_action,
    ),
)
