"""Run one shell command confined by bubblewrap: the agent's workspace is the only place it can
write, nothing of the runner (its environment, the fleet's tokens, other workspaces) is visible,
and it reaches the network only through the runner's egress proxy, if at all.

    sandbox = Sandbox(workspace, egress_socket=None)      # no network
    result = await sandbox.run("make test", Limits(wall_seconds=60))
    result.report()                                       # "exit status 0\\n..." for the model

The agent is untrusted code driven by untrusted text, so every boundary here holds against the
command itself: see ``src/mcos/runtime/README.md``, "The sandbox", for the invariants.
:func:`detect` says whether a sandbox can run on this machine, :func:`describe` how each limit is
enforced here. The filesystem and command line are built in ``_sandbox_mounts``, the limits in
``_sandbox_limits``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mcos.errors import McosError
from mcos.runtime._sandbox_limits import (
    JOIN_AND_EXEC,
    CommandCgroups,
    Enforcement,
    Limits,
    cgroup_parents,
    enforcement,
    rlimit_args,
)
from mcos.runtime._sandbox_mounts import (
    LAUNCH_ENV,
    Layout,
    bwrap_args,
    socat_path,
    synthetic_etc,
)

__all__ = [
    "Availability",
    "Enforcement",
    "Limits",
    "Sandbox",
    "SandboxError",
    "SandboxResult",
    "SandboxUnavailable",
    "describe",
    "detect",
]

PROBE_SECONDS = 30.0
DRAIN_SECONDS = 5.0
"""After a kill, how long the rest of the output may take to arrive (it is all dead by then)."""
READ_CHUNK = 64 * 1024


class SandboxError(McosError):
    """The sandbox could not be set up for this command (a bad path, bwrap refused to start)."""

    code = "sandbox_failed"


class SandboxUnavailable(SandboxError):
    """No sandbox can run on this machine; the message says why and how to fix it."""

    code = "sandbox_unavailable"


@dataclass(frozen=True)
class Availability:
    """Whether commands can be sandboxed here, and if not, why not and the fix."""

    available: bool
    reason: str = ""
    fix: str = ""

    def __str__(self) -> str:
        return "sandbox available" if self.available else f"{self.reason}\n  fix: {self.fix}"


@functools.cache
def detect() -> Availability:
    """Whether a sandbox can run here: Linux, bwrap, socat and prlimit installed, and a probe
    command run in a real sandbox succeeds. Cached: the answer does not change while we run.
    The first call blocks for the probe (tens of milliseconds): make it when the runner starts."""
    if sys.platform == "darwin":
        return Availability(
            False,
            "no sandbox on macOS yet",
            'set `sandbox = "none"` on this machine in fleet.toml to run commands unconfined, '
            "shown as a warning",
        )
    if not sys.platform.startswith("linux"):
        return Availability(
            False,
            f"no sandbox on {sys.platform}",
            'set `sandbox = "none"` on this machine in fleet.toml to run commands unconfined',
        )
    missing = {
        tool: package
        for tool, package in (
            ("bwrap", "bubblewrap"),
            ("socat", "socat"),
            ("prlimit", "util-linux"),
        )
        if shutil.which(tool) is None
    }
    if missing:
        return Availability(
            False,
            f"{', '.join(missing)} not installed",
            f"apt install {' '.join(missing.values())}",
        )
    if socat_path() is None:
        return Availability(
            False,
            f"socat is at {shutil.which('socat')}, which a sandbox does not see",
            "apt install socat (it installs under /usr)",
        )
    return _probe()


def _probe() -> Availability:
    """Run ``exit 0`` in a sandbox built exactly as a command's is, without cgroups."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    assert bwrap is not None and prlimit is not None
    with tempfile.TemporaryDirectory(prefix="mcos-sandbox-probe-") as tmp:
        layout = Layout.resolve(Path(tmp), (), (), (), None)
        data_fds = _data_pipes(synthetic_etc(layout.workspace))
        limits = Limits()
        try:
            argv = bwrap_args(layout, limits.file_bytes, data_fds, None, "exit 0")
            done = subprocess.run(
                [prlimit, *rlimit_args(limits, ()), "--", bwrap, *argv],
                env=LAUNCH_ENV,
                cwd="/",
                stdin=subprocess.DEVNULL,
                capture_output=True,
                pass_fds=tuple(data_fds.values()),
                timeout=PROBE_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Availability(False, "a probe sandbox did not finish", "see `bwrap --version`")
        finally:
            for fd in data_fds.values():
                os.close(fd)
    if done.returncode == 0:
        return Availability(True)
    said = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
    return Availability(
        False,
        f"bwrap cannot make a sandbox here: {said}",
        "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on "
        "Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0), and use bubblewrap 0.8 "
        "or newer",
    )


def describe(limits: Limits | None = None) -> list[Enforcement]:
    """How each limit is enforced on this machine; the runner prints these and warns about the
    ones with ``enforced=False``."""
    return enforcement(limits or Limits(), cgroup_parents())


@dataclass(frozen=True)
class SandboxResult:
    """What one sandboxed command did."""

    exit_status: int
    """The command's exit status; 128 + N when a signal N ended it (as a shell says it)."""
    output: str
    """Standard output and error together; past the limit, its head and tail with the cut marked."""
    output_bytes: int
    """Bytes of output read (reading stops just past ``limits.output_bytes``)."""
    timed_out: bool
    """It ran past ``limits.wall_seconds``; everything it started was killed."""
    output_limit_hit: bool
    """Its output passed ``limits.output_bytes``: reading stopped and everything was killed."""
    memory_limit_hit: bool
    """The memory cgroup killed one of its processes (known only where a cgroup is used)."""
    process_limit_hit: bool
    """A fork was refused at ``limits.processes`` (known only where a cgroup is used)."""
    seconds: float
    limits: Limits

    def report(self) -> str:
        """The result as the model reads it: the status, the output, and what was stopped."""
        notes = []
        if self.timed_out:
            notes.append(
                f"ran past {self.limits.wall_seconds:g} s and was killed, with all it started"
            )
        if self.output_limit_hit:
            notes.append(
                f"printed more than {self.limits.output_bytes} bytes and was killed; "
                "the head and tail of its output are shown"
            )
        if self.memory_limit_hit:
            notes.append(f"a process passed the memory limit ({self.limits.memory_bytes} bytes)")
        if self.process_limit_hit:
            notes.append(f"a fork was refused at the limit of {self.limits.processes} processes")
        text = f"exit status {self.exit_status}\n{self.output}"
        return text + "".join(f"\n[the command {note}]" for note in notes)


@dataclass(frozen=True)
class Sandbox:
    """Where one agent's commands run: its workspace, and what else it may see."""

    workspace: Path
    """The only writable place (besides a private /tmp); its ``.mcos`` shows empty."""
    read_only: tuple[Path, ...] = ()
    """More host paths to show read-only, each at its own absolute path."""
    read_write: tuple[Path, ...] = ()
    """More host paths to show writable, each at its own absolute path."""
    hidden: tuple[Path, ...] = ()
    """Paths inside those binds (or the workspace) to mask: a directory shows empty, a file as
    /dev/null. Paths that do not exist, or lie outside every bind, need no mask."""
    egress_socket: Path | None = None
    """The runner's egress proxy (``egress.EgressProxy``) for this agent, or ``None``: no
    network at all. Either way the sandbox has its own network namespace."""

    async def run(self, command: str, limits: Limits | None = None) -> SandboxResult:
        """Run ``command`` with ``/bin/sh -c`` inside the sandbox, within ``limits``.

        Raises :class:`SandboxUnavailable` when :func:`detect` says no, and
        :class:`SandboxError` when this sandbox cannot be set up (a path is missing, say).
        Commands in one workspace run one at a time (a second one waits for the first).
        """
        limits = limits or Limits()
        available = detect()
        if not available.available:
            raise SandboxUnavailable(f"{available.reason} ({available.fix})")
        if "\x00" in command:
            raise SandboxError("the command contains a NUL byte, which no shell can be given")
        try:
            layout = Layout.resolve(
                self.workspace, self.read_only, self.read_write, self.hidden, self.egress_socket
            )
        except (ValueError, OSError) as exc:
            raise SandboxError(str(exc)) from None
        # One at a time per workspace: the mounts are computed from the workspace as it is, and a
        # command of the same agent running meanwhile could change it under bwrap's feet.
        async with _workspace_lock(layout.workspace):
            return await _run(layout, command, limits)


_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _workspace_lock(workspace: Path) -> asyncio.Lock:
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(workspace, asyncio.Lock())


def _data_pipes(files: Mapping[str, bytes]) -> dict[str, int]:
    """A pipe holding each file's bytes, for ``--ro-bind-data``; the read ends, by destination."""
    fds = {}
    for destination, data in files.items():
        read, write = os.pipe()
        try:
            os.write(write, data)  # small: well under a pipe's buffer
        finally:
            os.close(write)
        fds[destination] = read
    return fds


class _Capture:
    """The output's head and tail, up to a limit; everything when it stays under it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head_room = limit // 2
        self.tail_room = limit - self.head_room
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    async def read(self, stream: asyncio.StreamReader) -> bool:
        """Read until end of file (``False``) or until past the limit (``True``)."""
        while chunk := await stream.read(READ_CHUNK):
            self.total += len(chunk)
            room = self.head_room - len(self.head)
            self.head += chunk[:room]
            self.tail += chunk[room:]
            if len(self.tail) > self.tail_room:
                del self.tail[: len(self.tail) - self.tail_room]
            if self.total > self.limit:
                return True
        return False

    def text(self) -> str:
        head = self.head.decode(errors="replace")
        tail = self.tail.decode(errors="replace")
        cut = self.total - len(self.head) - len(self.tail)
        return f"{head}\n[... {cut} bytes cut ...]\n{tail}" if cut > 0 else head + tail


@dataclass
class _Running:
    """One sandboxed command while it runs: the bwrap process, its output, its pid 1, its
    cgroups."""

    process: asyncio.subprocess.Process
    output: asyncio.StreamReader
    pid1: asyncio.Task[int | None]
    cgroups: CommandCgroups

    def kill(self) -> None:
        """Kill the whole sandbox: its pid 1 (the kernel then kills the rest of its namespace),
        or bwrap outside while pid 1 is not known (``--die-with-parent`` takes pid 1 along),
        and whatever is left in its cgroups."""
        pidfd = self.pid1.result() if self.pid1.done() and not self.pid1.cancelled() else None
        if pidfd is not None and pidfd >= 0:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        else:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.cgroups.kill_all()


async def _reader(pipe: BinaryIO) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader, transport


async def _read_child_pid(info: BinaryIO) -> int | None:
    """A pidfd for the sandbox's pid 1, from bwrap's ``--info-fd``; ``None`` if it never started.

    Killing that process ends the sandbox's pid namespace: the kernel kills everything in it,
    background children included, before bwrap outside sees it exit.
    """
    reader, transport = await _reader(info)
    try:
        said = await reader.read()
    finally:
        transport.close()
    found = re.search(rb'"child-pid":\s*(\d+)', said)
    if found is None:
        return None
    try:
        return os.pidfd_open(int(found.group(1)))
    except ProcessLookupError:
        return -1  # started, and already gone


async def _run(layout: Layout, command: str, limits: Limits) -> SandboxResult:
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    if bwrap is None or prlimit is None:
        raise SandboxUnavailable("bwrap or prlimit is no longer installed")
    parents = cgroup_parents()
    cgroups = CommandCgroups(parents, limits)
    data_fds = _data_pipes(synthetic_etc(layout.workspace))
    # Pipes of our own, not asyncio's: its wait() would also wait for the output to end, which
    # never comes once reading stops at the output limit.
    info_read, info_write = os.pipe()
    output_read, output_write = os.pipe()
    info = os.fdopen(info_read, "rb", buffering=0)
    output = os.fdopen(output_read, "rb", buffering=0)
    try:
        joined = cgroups.create()
        argv = bwrap_args(layout, limits.file_bytes, data_fds, info_write, command)
        launch = [prlimit, *rlimit_args(limits, parents), "--", bwrap, *argv]
        if joined:
            launch = ["/bin/sh", "-c", JOIN_AND_EXEC, "sh", str(len(joined)), *map(str, joined)]
            launch += [prlimit, *rlimit_args(limits, parents), "--", bwrap, *argv]
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *launch,
            stdin=subprocess.DEVNULL,
            stdout=output_write,
            stderr=output_write,
            env=LAUNCH_ENV,
            cwd="/",
            pass_fds=(info_write, *data_fds.values()),
        )
    except (OSError, ValueError) as exc:
        info.close()
        output.close()
        await cgroups.remove()
        raise SandboxError(f"could not set up the sandbox: {exc}") from None
    finally:
        for fd in (info_write, output_write, *data_fds.values()):
            os.close(fd)
    reader, transport = await _reader(output)
    running = _Running(process, reader, asyncio.create_task(_read_child_pid(info)), cgroups)
    try:
        return await _supervise(running, limits, started)
    except BaseException:
        running.kill()  # cancelled (the runner stops) or failed: nothing of it outlives us
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(process.wait(), DRAIN_SECONDS)
        raise
    finally:
        transport.close()
        if not running.pid1.done():
            running.pid1.cancel()
        info.close()
        with contextlib.suppress(BaseException):
            pidfd = await running.pid1
            if pidfd is not None and pidfd >= 0:
                os.close(pidfd)
        await cgroups.remove()


async def _supervise(running: _Running, limits: Limits, started: float) -> SandboxResult:
    process = running.process
    capture = _Capture(limits.output_bytes)
    timed_out = over = False
    try:
        async with asyncio.timeout(limits.wall_seconds):
            over = await capture.read(running.output)
            if not over:
                await process.wait()
    except TimeoutError:
        timed_out = True
    if timed_out or over:
        running.kill()
        if not over:  # what it printed before it died; it is all dead, so this ends at once
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_SECONDS):
                    over = await capture.read(running.output)
    await process.wait()
    if await running.pid1 is None:
        raise SandboxError(f"bwrap did not start the sandbox: {capture.text().strip()}")
    status = process.returncode or 0
    return SandboxResult(
        exit_status=128 - status if status < 0 else status,
        output=capture.text(),
        output_bytes=capture.total,
        timed_out=timed_out,
        output_limit_hit=over,
        memory_limit_hit=running.cgroups.memory_limit_hit(),
        process_limit_hit=running.cgroups.process_limit_hit(),
        seconds=time.monotonic() - started,
        limits=limits,
    )
