"""Running a service's runbook commands on its machine: the operator's text, bounded.

Runbook commands (``diagnose``, ``restart``, ``rollback``) come from the fleet file, written by
the operator, never from a model: the runner runs them on the host with ``sh -c``, outside any
agent's sandbox (a restart needs the host's service manager). They get a minimal environment
(``PATH``, ``HOME``, ``LANG``, ``TZ``, ``USER``), never the runner's own (which holds the
agents' credentials), run in their own process group, and are killed with everything they
started when their time is up; their output is cut at :data:`OUTPUT_LIMIT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass

OUTPUT_LIMIT = 32_000
"""Bytes of one command's output kept (the rest is read and dropped)."""
DIAGNOSIS_LIMIT = 64_000
"""Characters of a whole diagnosis kept."""
ENV_KEPT = ("PATH", "HOME", "LANG", "TZ", "USER", "LOGNAME")


@dataclass(frozen=True)
class Ran:
    command: str
    exit_status: int | None
    """``None`` when it was stopped at its time limit."""
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def report(self) -> str:
        status = (
            "stopped: over its time limit"
            if self.exit_status is None
            else f"exit status {self.exit_status}"
        )
        return f"$ {self.command}\n{self.output.rstrip()}\n[{status}, {self.seconds:.1f}s]\n"


def host_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in ENV_KEPT if k in os.environ}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    return env


async def run_on_host(command: str, timeout_seconds: float) -> Ran:
    """Run one runbook command; never raises for the command's sake."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=host_env(),
            cwd="/",
            start_new_session=True,
        )
    except OSError as exc:
        return Ran(command, 127, f"could not start: {exc}", 0.0)
    assert process.stdout is not None
    kept = bytearray()

    async def read() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65_536):
            if len(kept) < OUTPUT_LIMIT:
                kept.extend(chunk[: OUTPUT_LIMIT - len(kept)])

    reader = asyncio.create_task(read())
    deadline = started + timeout_seconds
    # ``Process.wait`` also waits for the output to close, which a daemon the command started
    # in the background holds open; the exit itself is seen in ``returncode``.
    while process.returncode is None and loop.time() < deadline:
        await asyncio.sleep(0.02)
    status = process.returncode
    if status is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    # What the command wrote by now (and shortly after) is its output.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(reader), 1.0)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    text = kept.decode("utf-8", "replace")
    if len(kept) >= OUTPUT_LIMIT:
        text += "\n[... output cut ...]"
    return Ran(command, status, text, loop.time() - started)


async def diagnose(commands: tuple[str, ...], timeout_seconds: float) -> str:
    """Every diagnosis command's report, in order, cut at :data:`DIAGNOSIS_LIMIT`."""
    parts = [(await run_on_host(c, timeout_seconds)).report() for c in commands]
    text = "\n".join(parts)
    return text if len(text) <= DIAGNOSIS_LIMIT else text[:DIAGNOSIS_LIMIT] + "\n[... cut ...]"
