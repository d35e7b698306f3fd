"""``mcos service install``: ``mcos serve`` or ``mcos run`` as a service of the machine."""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path

import click

from mcos.cli._context import fail, find_fleet_dir
from mcos.errors import McosError
from mcos.fleet.loader import FLEET_FILENAME, load_fleet
from mcos.fleet.schema import Fleet
from mcos.service_files import (
    Platform,
    Role,
    ServiceSpec,
    env_file_text,
    launchd_plist,
    systemd_unit,
)

SYSTEMD_DIR = Path("/etc/systemd/system")


def launch_agents_dir() -> Path:
    return Path.home() / "Library" / "LaunchAgents"


def launchd_logs_dir() -> Path:
    return Path.home() / "Library" / "Logs" / "mcos"


@click.group()
def service() -> None:
    """mcos serve or mcos run as a service: started at boot, restarted when it fails."""


@service.command("install")
@click.option(
    "--role",
    type=click.Choice(["control-plane", "runner"]),
    required=True,
    help="control-plane: `mcos serve`; runner: `mcos run` for one machine.",
)
@click.option(
    "--fleet",
    "fleet_path",
    help="The fleet's folder. The control plane's is required (default: the CLI's fleet); a "
    "runner without one takes its fleet from the control plane.",
)
@click.option(
    "--machine",
    help="The runner's machine (default: the fleet file's only one; without a fleet file, the "
    "runner token's).",
)
@click.option(
    "--url",
    help="The control plane's URL, for a runner (default: MCOS_URL, else the fleet file's "
    "control_plane.url).",
)
@click.option(
    "--platform",
    type=click.Choice(["systemd", "launchd"]),
    help="What starts the service (default: launchd on macOS, systemd elsewhere).",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the unit here instead of /etc/systemd/system or ~/Library/LaunchAgents.",
)
@click.option("--print", "print_only", is_flag=True, help="Print the unit; write nothing.")
@click.pass_context
def install(
    ctx: click.Context,
    role: Role,
    fleet_path: str | None,
    machine: str | None,
    url: str | None,
    platform: Platform | None,
    output: Path | None,
    print_only: bool,
) -> None:
    """Write the systemd unit (or launchd job) that runs this machine's part of the fleet.

    Secrets go in the environment file it names (mode 600, written once to fill in), never
    on the command line. Then start it as the command prints.
    """
    root = ctx.find_root().params
    platform = platform or ("launchd" if sys.platform == "darwin" else "systemd")
    explicit = fleet_path or root.get("fleet_dir")
    fleet_dir = find_fleet_dir(explicit) if role == "control-plane" else None
    if role == "runner" and explicit:
        fleet_dir = find_fleet_dir(explicit)
    if role == "control-plane" and fleet_dir is None:
        fail("no fleet found: pass --fleet DIR (the control plane's fleet)", field="--fleet")
    fleet: Fleet | None = None
    if fleet_dir is not None:
        fleet_dir = fleet_dir.resolve()
        try:
            fleet = load_fleet(fleet_dir / FLEET_FILENAME)
        except McosError as exc:
            fail(exc.message.splitlines()[0] + " — run `mcos fleet check`", field="--fleet")
    spec = _spec(role, fleet_dir, fleet, machine, url or root.get("url"))
    if platform == "systemd":
        try:
            name, content = f"{spec.name}.service", systemd_unit(spec).encode()
        except McosError as exc:
            fail(exc.message, field=exc.field)
    else:
        name, content = f"{spec.label}.plist", launchd_plist(spec, launchd_logs_dir())
    if print_only:
        click.echo(content.decode(), nl=False)
        return
    folder = output or (SYSTEMD_DIR if platform == "systemd" else launch_agents_dir())
    target = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o644)  # the service manager reads it; it holds no secret
        if output is None and platform == "launchd":
            launchd_logs_dir().mkdir(parents=True, exist_ok=True)
    except PermissionError:
        fail(f"cannot write {target}: run as root (sudo), or give --output DIR", field="--output")
    click.echo(f"Wrote {target}")
    if not spec.env_file.exists():
        spec.env_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(spec.env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(env_file_text(spec))
        click.echo(f"Wrote {spec.env_file} (mode 600): fill it in before starting the service")
    else:
        click.echo(f"Kept {spec.env_file}")
    if platform == "systemd":
        click.echo(f"Start it:  systemctl daemon-reload && systemctl enable --now {spec.name}")
        click.echo(f"Its log:   journalctl -u {spec.name} -f")
    else:
        click.echo(f"Start it:  launchctl bootstrap gui/$(id -u) {target}")
        click.echo(f"Its log:   tail -f {launchd_logs_dir() / spec.name}.log")


def _spec(
    role: Role, fleet_dir: Path | None, fleet: Fleet | None, machine: str | None, url: str | None
) -> ServiceSpec:
    workdir = fleet_dir or Path.cwd().resolve()
    credentials: tuple[str, ...] = ()
    writable: tuple[Path, ...] = ()
    if role == "runner":
        if fleet is not None:
            names = [m.name for m in fleet.machines]
            if machine is None and len(names) == 1:
                machine = names[0]
            if machine is None or machine not in names:
                said = "say which with --machine" if machine is None else f"no {machine!r}"
                fail(f"this fleet's machines are {', '.join(names)}: {said}", field="--machine")
            agents = [
                a
                for a in fleet.agents
                if a.machine == machine and not a.external and a.provider != "simulated"
            ]
            credentials = tuple(dict.fromkeys(a.key_variable for a in agents))
            # What its agents may write beyond the workspaces: their sandboxes' read_write
            # folders and the machine's deploy targets.
            writable = tuple(
                dict.fromkeys(
                    [Path(p) for a in agents for p in a.sandbox.read_write]
                    + [Path(t.path) for t in fleet.deploy_targets if t.machine == machine]
                )
            )
            url = url or fleet.control_plane.url
        if url is None:
            fail(
                "a runner without a fleet file needs the control plane's URL: --url "
                "https://mc.example.com (or MCOS_URL)",
                field="--url",
            )
    return ServiceSpec(
        role=role,
        mcos=_installed_mcos(),
        workdir=workdir,
        user=pwd.getpwuid(workdir.stat().st_uid).pw_name,
        fleet=fleet_dir,
        url=url,
        machine=machine,
        credentials=credentials,
        writable=writable,
    )


def _installed_mcos() -> Path:
    """The ``mcos`` beside this Python (its virtual environment's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mcos"
    if beside.is_file():
        return beside
    found = shutil.which("mcos")
    if found is None:
        fail("cannot find the installed `mcos` executable: install mcos, then run this again")
    return Path(found).resolve()
