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


class _Output(asyncio.SubprocessProtocol):
    """Keeps the first :data:`OUTPUT_LIMIT` bytes; tells when the command exits, and when its
    output closes (a daemon it started in the background may hold it open after the exit)."""

    def __init__(self) -> None:
        self.kept = bytearray()
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if len(self.kept) < OUTPUT_LIMIT:
            self.kept.extend(data[: OUTPUT_LIMIT - len(self.kept)])

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.closed.set()

    def process_exited(self) -> None:
        self.exited.set()


async def run_on_host(command: str, timeout_seconds: float) -> Ran:
    """Run one runbook command; never raises for the command's sake."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        transport, output = await loop.subprocess_exec(
            _Output,
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
    try:
        try:
            await asyncio.wait_for(output.exited.wait(), timeout_seconds)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(transport.get_pid(), signal.SIGKILL)  # and all it started
            await output.exited.wait()
            status = None
        else:
            status = transport.get_returncode()
        with contextlib.suppress(TimeoutError):  # what it wrote by now is its output
            await asyncio.wait_for(output.closed.wait(), 1.0)
    finally:
        transport.close()
    text = output.kept.decode("utf-8", "replace")
    if len(output.kept) >= OUTPUT_LIMIT:
        text += "\n[... output cut ...]"
    return Ran(command, status, text, loop.time() - started)


async def diagnose(commands: tuple[str, ...], timeout_seconds: float) -> str:
    """Every diagnosis command's report, in order, cut at :data:`DIAGNOSIS_LIMIT`."""
    parts = [(await run_on_host(c, timeout_seconds)).report() for c in commands]
    text = "\n".join(parts)
    return text if len(text) <= DIAGNOSIS_LIMIT else text[:DIAGNOSIS_LIMIT] + "\n[... cut ...]"
