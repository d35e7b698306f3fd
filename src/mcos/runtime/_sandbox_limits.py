"""How a sandboxed command's limits are enforced on this machine, and what is not, said plainly.

Processes and memory want a cgroup: the kernel does not enforce RLIMIT_NPROC when the sandbox's
real uid is root outside (root's user is exempt, even inside a user namespace), and RLIMIT_DATA
bounds each process, not the command. So each command gets its own cgroup, made under the
runner's own one (cgroup v2 with the controllers delegated to it, or the v1 hierarchies), joined
by a small shell wrapper before bwrap starts, and removed afterwards. Without a writable cgroup
the limits fall back to rlimits, and :func:`enforcement` says what that leaves unenforced.
File size, open files and core dumps are always rlimits, set by util-linux's ``prlimit`` on the
same exec chain (never a ``preexec_fn``: the runner has threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("mcos.runtime.sandbox")

CGROUP_PREFIX = "mcos-sandbox-"
"""Name prefix of the per-command cgroups, so a leftover one says whose it is."""

_CONTROL_FILE = {"pids": "pids.max", "memory": "memory.max"}
_V1_CONTROL_FILE = {"pids": "pids.max", "memory": "memory.limit_in_bytes"}


@dataclass(frozen=True)
class Limits:
    """What one command may use; every field is the caller's to override."""

    wall_seconds: float = 600.0
    """Wall-clock time; past it the whole sandbox (children included) is killed."""
    memory_bytes: int = 1 << 30
    """Memory of the whole command (a cgroup), or of each process (RLIMIT_DATA) without one."""
    processes: int = 256
    """Processes and threads at once (a pids cgroup, or RLIMIT_NPROC for a non-root runner)."""
    output_bytes: int = 1 << 20
    """Bytes of output read; past it, reading stops and the command is killed (head, tail kept)."""
    file_bytes: int = 512 << 20
    """The largest file the command may write (RLIMIT_FSIZE), and the size of its /tmp."""
    open_files: int = 1024
    """Open file descriptors per process (RLIMIT_NOFILE)."""

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "memory_bytes", "processes", "output_bytes", "file_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"Limits.{name} has value {getattr(self, name)!r}; give a positive one"
                )
        if self.open_files < 16:
            raise ValueError(f"Limits.open_files has value {self.open_files!r}; give 16 or more")


@dataclass(frozen=True)
class CgroupParent:
    """Where this runner may make a per-command cgroup for one controller."""

    controller: str
    """``pids`` or ``memory``."""
    path: Path
    """The runner's own cgroup in that hierarchy; per-command cgroups are made inside it."""
    version: int
    """1 or 2."""


@dataclass(frozen=True)
class Enforcement:
    """One limit and how this machine enforces it (or does not)."""

    limit: str
    how: str
    enforced: bool = True

    def __str__(self) -> str:
        return f"{self.limit}: {self.how}"


def _own_cgroup_dirs() -> dict[str, tuple[Path, int]]:
    """Each controller's directory of the cgroup this process is in, with the cgroup version."""
    own: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else ["(v2)"]:
                own[controller] = path
    found: dict[str, tuple[Path, int]] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields, _, tail = line.partition(" - ")
            parts, kinds = fields.split(), tail.split()
            if len(parts) < 5 or len(kinds) < 3:
                continue
            root, mountpoint, fstype, options = parts[3], parts[4], kinds[0], kinds[2]
            names = ["(v2)"] if fstype == "cgroup2" else options.split(",")
            if fstype not in ("cgroup", "cgroup2"):
                continue
            for name in names:
                if name not in own:
                    continue
                relative = os.path.relpath(own[name], root) if own[name] != root else "."
                directory = Path(mountpoint) / ("" if relative == "." else relative)
                if relative.startswith("..") or not _holds_self(directory):
                    continue
                version = 2 if fstype == "cgroup2" else 1
                for controller in ("pids", "memory") if version == 2 else [name]:
                    found.setdefault(f"{controller}:v{version}", (directory, version))
    return found


def _holds_self(directory: Path) -> bool:
    """Whether this process is listed in that cgroup (the mount table can mislead)."""
    try:
        pids = (directory / "cgroup.procs").read_text().split()
    except OSError:
        return False
    return str(os.getpid()) in pids


def _usable(directory: Path, controller: str, version: int) -> bool:
    """Whether a child cgroup with this controller can be made here (tried, then removed)."""
    if version == 2:
        try:
            available = (directory / "cgroup.controllers").read_text().split()
            delegated = (directory / "cgroup.subtree_control").read_text().split()
        except OSError:
            return False
        if controller not in available:
            return False
        if controller not in delegated:
            # Refused (EBUSY) when the cgroup holds processes and is not the root: then it was
            # not delegated to us, and moving the runner itself is not this module's to do.
            try:
                (directory / "cgroup.subtree_control").write_text(f"+{controller}")
            except OSError:
                return False
    probe = directory / f"{CGROUP_PREFIX}probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        control = (_CONTROL_FILE if version == 2 else _V1_CONTROL_FILE)[controller]
        return (probe / control).exists()
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


@functools.cache
def cgroup_parents() -> tuple[CgroupParent, ...]:
    """The pids and memory cgroups this runner may nest per-command cgroups in; cached."""
    own = _own_cgroup_dirs()
    parents = []
    for controller in ("pids", "memory"):
        for version in (2, 1):
            where = own.get(f"{controller}:v{version}")
            if where is not None and _usable(where[0], controller, version):
                parents.append(CgroupParent(controller, where[0], version))
                break
    return tuple(parents)


def _kib(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def rlimit_args(limits: Limits, parents: Sequence[CgroupParent]) -> list[str]:
    """``prlimit`` options for the limits no cgroup takes care of."""
    controllers = {p.controller for p in parents}
    args = [
        f"--fsize={limits.file_bytes}:{limits.file_bytes}",
        f"--nofile={limits.open_files}:{limits.open_files}",
        "--core=0:0",
    ]
    if "memory" not in controllers:
        args.append(f"--data={limits.memory_bytes}:{limits.memory_bytes}")
    if "pids" not in controllers and os.getuid() != 0:
        args.append(f"--nproc={limits.processes}:{limits.processes}")
    return args


def enforcement(limits: Limits, parents: Sequence[CgroupParent]) -> list[Enforcement]:
    """Each limit and how it is enforced here: what the runner prints, and warns about."""
    by_controller = {p.controller: p for p in parents}
    pids, memory = by_controller.get("pids"), by_controller.get("memory")
    lines = [
        Enforcement(
            "wall time",
            f"{limits.wall_seconds:g} s, then the whole sandbox is killed (its pid namespace)",
        ),
        Enforcement("output", f"{_kib(limits.output_bytes)}, then the command is killed"),
    ]
    if memory is not None:
        lines.append(
            Enforcement(
                "memory",
                f"{_kib(limits.memory_bytes)} for the whole command "
                f"(memory cgroup v{memory.version} under {memory.path})",
            )
        )
    else:
        lines.append(
            Enforcement(
                "memory",
                f"{_kib(limits.memory_bytes)} per process only (RLIMIT_DATA; no writable memory "
                "cgroup, so several processes together may use more)",
                enforced=False,
            )
        )
    if pids is not None:
        lines.append(
            Enforcement(
                "processes",
                f"{limits.processes} at once (pids cgroup v{pids.version} under {pids.path})",
            )
        )
    elif os.getuid() != 0:
        lines.append(
            Enforcement(
                "processes",
                f"{limits.processes} (RLIMIT_NPROC: counts every process of the runner's user)",
            )
        )
    else:
        lines.append(
            Enforcement(
                "processes",
                "not enforced (running as root and no writable pids cgroup)",
                enforced=False,
            )
        )
    lines += [
        Enforcement("file size", f"{_kib(limits.file_bytes)} per file (RLIMIT_FSIZE)"),
        Enforcement("open files", f"{limits.open_files} per process (RLIMIT_NOFILE)"),
        Enforcement("core dumps", "none (RLIMIT_CORE=0)"),
    ]
    return lines


class CommandCgroups:
    """The cgroups of one command: made before it starts, read and removed after it ends."""

    def __init__(self, parents: Sequence[CgroupParent], limits: Limits) -> None:
        self.limits = limits
        self.made: list[tuple[Path, int, list[str]]] = []
        name = f"{CGROUP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        by_dir: dict[Path, tuple[int, list[str]]] = {}
        for parent in parents:
            by_dir.setdefault(parent.path / name, (parent.version, []))[1].append(parent.controller)
        self._planned = [(path, version, names) for path, (version, names) in by_dir.items()]

    def create(self) -> list[Path]:
        """Make the cgroups and set their limits; the directories the command must join."""
        try:
            for path, version, controllers in self._planned:
                path.mkdir()
                self.made.append((path, version, controllers))
                for controller in controllers:
                    self._set_limit(path, version, controller)
        except OSError:
            self._remove_now()
            raise
        return [path for path, _, _ in self.made]

    def _set_limit(self, path: Path, version: int, controller: str) -> None:
        if controller == "pids":
            (path / "pids.max").write_text(str(self.limits.processes))
            return
        memory = str(self.limits.memory_bytes)
        if version == 2:
            (path / "memory.max").write_text(memory)
            with contextlib.suppress(OSError):  # absent without swap accounting
                (path / "memory.swap.max").write_text("0")
        else:
            (path / "memory.limit_in_bytes").write_text(memory)
            with contextlib.suppress(OSError):  # memory+swap: absent without swap accounting
                (path / "memory.memsw.limit_in_bytes").write_text(memory)

    def _count(self, controller: str, file_v1: str, file_v2: str, key: str) -> int:
        for path, version, controllers in self.made:
            if controller in controllers:
                try:
                    text = (path / (file_v2 if version == 2 else file_v1)).read_text()
                except OSError:
                    return 0
                for line in text.splitlines():
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        return 0

    def process_limit_hit(self) -> bool:
        """Whether a fork was refused because the command had too many processes."""
        return self._count("pids", "pids.events", "pids.events", "max") > 0

    def memory_limit_hit(self) -> bool:
        """Whether the kernel killed a process of the command for passing the memory limit."""
        return self._count("memory", "memory.oom_control", "memory.events", "oom_kill") > 0

    def kill_all(self) -> None:
        """SIGKILL every process still in the command's cgroups."""
        for path, version, _ in self.made:
            if version == 2 and (path / "cgroup.kill").exists():
                with contextlib.suppress(OSError):
                    (path / "cgroup.kill").write_text("1")
                continue
            with contextlib.suppress(OSError):
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)

    async def remove(self) -> None:
        """Kill what is left and remove the cgroups (retried while the kernel lets go of them)."""
        for _ in range(200):
            self.kill_all()
            self._remove_now()
            if not self.made:
                return
            await asyncio.sleep(0.01)
        log.warning("could not remove the sandbox cgroups %s", [str(p) for p, _, _ in self.made])

    def _remove_now(self) -> None:
        kept = []
        for entry in self.made:
            try:
                entry[0].rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                kept.append(entry)
        self.made = kept


JOIN_AND_EXEC = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1/cgroup.procs" || exit 125; '
    'shift; n=$((n - 1)); done; exec "$@"'
)
"""``sh -c`` script: join the cgroups given as arguments, then exec the rest (prlimit, bwrap)."""
