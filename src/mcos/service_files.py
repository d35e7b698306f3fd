"""The files that make ``mcos serve`` and ``mcos run`` services: a systemd unit (Linux) or a
launchd job (macOS), and the environment file they read their secrets from.

Secrets never appear on a command line or in the unit: the runner token and the agents' API
keys are in an environment file of mode 600 (systemd's ``EnvironmentFile=``; the launchd job
sources it in ``/bin/sh`` before exec'ing ``mcos``). Both restart a failed process and log where
the platform keeps logs: the journal, or ``~/Library/Logs/mcos/``.

The systemd unit is hardened where it costs nothing: no new privileges, the whole file system
read-only but the service's folder, a private /tmp and /dev. The runner's unit leaves out what
would break bubblewrap, which builds each agent's command sandbox from user, mount, PID and
network namespaces with a /proc of its own: namespaces stay allowed, and the host's /proc and
host name are left as they are.
"""

from __future__ import annotations

import plistlib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mcos.errors import InvalidInput

Role = Literal["control-plane", "runner"]
Platform = Literal["systemd", "launchd"]

LAUNCHD_PATH = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
"""launchd starts jobs with a bare PATH; Homebrew's folders first, where its tools live."""


@dataclass(frozen=True)
class ServiceSpec:
    """What one service runs, as whom, and where."""

    role: Role
    mcos: Path
    """The installed ``mcos`` executable (absolute): a service has no shell PATH to find it."""
    workdir: Path
    """Its folder: the fleet's for the control plane; where a runner keeps its state."""
    user: str
    fleet: Path | None = None
    url: str | None = None
    machine: str | None = None
    credentials: tuple[str, ...] = ()
    """The environment variables of the agents the runner runs (their API keys)."""
    writable: tuple[Path, ...] = ()
    """Folders beyond ``workdir`` the service writes to (agents' sandbox read_write paths)."""

    @property
    def name(self) -> str:
        return "mcos-serve" if self.role == "control-plane" else "mcos-run"

    @property
    def label(self) -> str:
        """The launchd job's label."""
        return "mcos.serve" if self.role == "control-plane" else "mcos.run"

    @property
    def env_file(self) -> Path:
        return self.workdir / ".mcos" / f"{self.name}.env"

    def argv(self) -> list[str]:
        """The command line: paths and names only, never a secret."""
        argv = [str(self.mcos)]
        if self.role == "control-plane":
            assert self.fleet is not None
            return [*argv, "serve", "--fleet", str(self.fleet)]
        if self.fleet is not None:
            argv += ["--fleet", str(self.fleet)]
        if self.url is not None:
            argv += ["--url", self.url]
        argv.append("run")
        if self.machine is not None:
            argv += ["--machine", self.machine]
        return argv

    def description(self) -> str:
        if self.role == "control-plane":
            return f"Mission Control OS control plane (mcos serve, fleet {self.fleet})"
        return f"Mission Control OS runner (mcos run, machine {self.machine or 'from its token'})"


def systemd_unit(spec: ServiceSpec) -> str:
    """The systemd unit of ``spec`` (a system unit, run as ``spec.user``)."""
    runner = spec.role == "runner"
    # A missing extra folder ("-") is skipped rather than failing the start.
    writable = " ".join(
        [_systemd_path(spec.workdir), *("-" + _systemd_path(p) for p in spec.writable)]
    )
    lines = [
        "# Written by `mcos service install`; see docs/deployment.md.",
        "[Unit]",
        f"Description={spec.description()}",
        "Wants=network-online.target",
        "After=network-online.target" + ("" if runner else " postgresql.service"),
        "",
        "[Service]",
        "Type=exec",
        f"User={spec.user}",
        f"WorkingDirectory={_systemd_path(spec.workdir)}",
        # Secrets (the runner token, the agents' keys; MCOS_DATABASE_URL, MCOS_PUBLIC_URL) are
        # here, mode 600: never on the command line, which every user of the host can read.
        f"EnvironmentFile={'' if runner else '-'}{_systemd_path(spec.env_file)}",
        f"ExecStart={' '.join(_systemd_arg(a) for a in spec.argv())}",
    ]
    if not runner:
        lines.append("ExecReload=/bin/kill -HUP $MAINPID")  # mcos serve re-reads the fleet file
    lines += [
        "Restart=on-failure",
        "RestartSec=5",
        # SIGTERM: the runner lets each agent finish its current step (a model call, a command).
        f"TimeoutStopSec={'660' if runner else '30'}",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={writable}",
        "ProtectHome=read-only",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectKernelModules=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "RestrictSUIDSGID=yes",
        "RestrictRealtime=yes",
        "LockPersonality=yes",
        "SystemCallArchitectures=native",
    ]
    if runner:
        lines += [
            # bubblewrap builds each sandbox from namespaces of its own and sets up its loopback
            # over netlink: no RestrictNamespaces= and no system-call filter. It mounts a fresh
            # /proc, which the kernel refuses while parts of the host's are covered: so neither
            # ProtectKernelTunables= nor ProtectKernelLogs=; and it names the sandbox's host,
            # which ProtectHostname= forbids (tests/cli/test_service_install.py shows /proc's).
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        ]
    else:
        lines += [
            "ProtectKernelTunables=yes",
            "ProtectKernelLogs=yes",
            "ProtectHostname=yes",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
            "RestrictNamespaces=yes",
            "CapabilityBoundingSet=",
            "SystemCallFilter=@system-service",
        ]
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def launchd_plist(spec: ServiceSpec, logs: Path) -> bytes:
    """The launchd job of ``spec`` (a LaunchAgent of the user who installs it)."""
    command = f"set -a && . {shlex.quote(str(spec.env_file))} && set +a && exec " + " ".join(
        shlex.quote(a) for a in spec.argv()
    )
    log = str(logs / f"{spec.name}.log")
    job = {
        "Label": spec.label,
        # The environment file is sourced by the shell, so its secrets stay out of the plist
        # (which launchctl shows to anyone who asks) and off the command line.
        "ProgramArguments": ["/bin/sh", "-c", command],
        "WorkingDirectory": str(spec.workdir),
        "EnvironmentVariables": {"PATH": LAUNCHD_PATH},
        "RunAtLoad": True,
        # Started again when it fails; a clean stop (exit 0) stays stopped.
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ExitTimeOut": 660 if spec.role == "runner" else 30,
        "Umask": 0o077,
        "StandardOutPath": log,
        "StandardErrorPath": log,
        "ProcessType": "Background",
    }
    return plistlib.dumps(job, sort_keys=False)


def env_file_text(spec: ServiceSpec) -> str:
    """The environment file's first version: every variable the service needs, to fill in."""
    lines = [
        f"# Environment of {spec.name} (`mcos service install`): KEY=value lines, read by",
        "# systemd's EnvironmentFile= or sourced by the launchd job. Mode 600: it holds secrets.",
    ]
    if spec.role == "control-plane":
        lines += [
            "# The database, unless the fleet file's control_plane.database_url says it:",
            "# MCOS_DATABASE_URL=postgresql+psycopg://mcos@/mcos?host=/var/run/postgresql",
            "# Behind Caddy (deploy/Caddyfile) on this machine: the URL operators open.",
            "# MCOS_PUBLIC_URL=https://mc.example.com",
            "# MCOS_TRUSTED_PROXIES=127.0.0.1",
            "",
        ]
        return "\n".join(lines)
    machine = spec.machine or "MACHINE"
    lines += [
        f"# This machine's runner token: `mcos tokens issue --runner {machine}` by an operator.",
        "MCOS_TOKEN=",
    ]
    if spec.credentials:
        lines.append("# Each agent's own API key (the fleet file's agents.credential):")
        lines += [f"{name}=" for name in spec.credentials]
    else:
        lines.append(
            "# And each agent's own API key, by the variable its `credential` names "
            "(`mcos run` lists any missing)."
        )
    return "\n".join(lines) + "\n"


def _systemd_path(path: Path) -> str:
    """A path as a unit's value: ``ReadWritePaths=`` splits at spaces, ``%`` starts a
    specifier, so a path with either is refused rather than written wrong."""
    text = str(path)
    if any(c.isspace() for c in text) or "%" in text or "\\" in text:
        raise InvalidInput(
            f"{text!r} has a space, % or \\, which a systemd unit would misread: move the "
            "service's folder to a path without them",
            field="--fleet",
        )
    return text


def _systemd_arg(arg: str) -> str:
    """One ExecStart argument: quoted when it needs it, ``%`` and ``$`` kept literal."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if escaped and not any(c.isspace() or c in "\"'\\;" for c in escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
