"""``mcos demo``: the control plane and the seed's 23 agents, simulated, playing a day."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import httpx2

from mcos.cli._context import TOKEN_FILE, fail, remember_fleet
from mcos.contract import paths
from mcos.demo.mail import DemoMail, demo_mail, with_accounts
from mcos.demo.services import DemoService, demo_service, with_services
from mcos.errors import McosError
from mcos.fleet.loader import FLEET_FILENAME, FleetFileError, load_fleet, template_text
from mcos.fleet.schema import Fleet
from mcos.fleet.soul_templates import SOULS_DIR

ALIVE_SECONDS = 60.0
"""How long the demo waits for all 23 agents' first heartbeats (not the slot for your own)."""


def _clock(value: str) -> tuple[int, int]:
    try:
        hours, minutes = (int(part) for part in value.split(":"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a time; use HH:MM, such as 02:50") from None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise click.BadParameter(f"{value!r} is not a time of day; use 00:00 to 23:59")
    return hours, minutes


@click.command()
@click.argument("directory", default="mcos-demo", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--speed",
    type=click.FloatRange(min=1, max=100_000),
    default=240.0,
    show_default=True,
    help="How many times faster than real time the day runs. At 1 the scenes happen at "
    "their own times of day in the fleet's time zone.",
)
@click.option(
    "--start",
    default="02:50",
    show_default=True,
    help="The simulated clock's time at start (HH:MM, the fleet's time zone); with --speed 1 "
    "the clock is the real one.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: the fleet's url).")
@click.option(
    "--exit-when-done",
    is_flag=True,
    help="Stop once the day is played, rather than keep the fleet running until Ctrl-C.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every agent's steps too.")
def demo(
    directory: Path,
    speed: float,
    start: str,
    host: str,
    port: int | None,
    exit_when_done: bool,
    verbose: bool,
) -> None:
    """A SIMULATED day in the seed's five companies: the real control plane, runner, guardrails
    and dashboard, with every model reply scripted.

    Writes a demo fleet to DIRECTORY (default ./mcos-demo) the first time, serves it, runs its
    23 agents on the simulated provider, and plays the day: Elon's 3 a.m. fix, the morning
    briefing, Donna's digest, Apex's contract, Vega's analysis, and the seed's four failures
    stopped by their guardrails. Open the dashboard URL it prints while it plays.
    """
    hours, minutes = _clock(start)
    fleet, token = _demo_fleet(directory, port)
    with demo_mail(directory) as mail, demo_service(directory) as service:
        fleet = _with_mailboxes(directory, mail, service)
        _run_demo(directory, fleet, token, mail, service, host, port, hours, minutes, speed,
                  exit_when_done, verbose)  # fmt: skip


def _with_mailboxes(directory: Path, mail: DemoMail, service: DemoService) -> Fleet:
    """The demo's fleet file with this run's mailboxes and watched service (or none), and the
    mailboxes' passwords set."""
    fleet_file = directory / FLEET_FILENAME
    text = with_accounts(fleet_file.read_text(), mail.block())
    fleet_file.write_text(with_services(text, service.block()))
    os.environ.update(mail.env)  # the runner reads them, as `mcos run` would
    try:
        return load_fleet(fleet_file)
    except FleetFileError as exc:
        fail(exc.message)


def _run_demo(
    directory: Path,
    fleet: Fleet,
    token: str,
    mail: DemoMail,
    service: DemoService,
    host: str,
    port: int | None,
    hours: int,
    minutes: int,
    speed: float,
    exit_when_done: bool,
    verbose: bool,
) -> None:
    chosen_port = port or httpx2.URL(fleet.control_plane.url).port or 8750
    url = f"http://{host}:{chosen_port}"
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    # httpx2 logs a line per request at INFO (the runner's and the client's): too many.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    server = _serve(directory, host, chosen_port)
    try:
        _wait_until_up(server, url, directory / "serve.log")
        zone = ZoneInfo(fleet.fleet.timezone)
        now = datetime.now(zone)
        begin = (
            now if speed == 1 else now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
        )
        day_hours = 14.2
        click.echo(
            "Mission Control OS: SIMULATED DEMO. Every model reply is scripted; no real model "
            "is called and nothing is billed."
        )
        click.echo(f"  dashboard       {url}/")
        click.echo(f"  operator token  {token}   (from {directory / TOKEN_FILE})")
        pace = (
            "in real time"
            if speed == 1
            else f"at {speed:g}x: the day takes about "
            f"{timedelta(seconds=round(day_hours * 3600 / speed))}"
        )
        click.echo(f"  the day: {fleet.fleet.name}, {fleet.fleet.timezone}, {pace}")
        if mail.running:
            assert mail.server is not None
            click.echo(
                f"  mailboxes       Donna's 5 accounts on a private Dovecot at "
                f"{mail.server.host}:{mail.server.port}: {mail.delivered} mails of the sample "
                f"mailbox, read by the real IMAP code; what is sent is kept in "
                f"{directory / 'sent-mail'}"
            )
        else:
            click.echo(f"  mailboxes       none ({mail.why_not}): Donna's digest is scripted")
        if service.running:
            click.echo(
                f"  watched service {service.url}: the demo's stand-in for FibreFlow's API on "
                "velo (a real local HTTP service, simulated), killed at 03:00"
            )
        else:
            click.echo(f"  watched service none ({service.why_not}): Elon's 03:00 is scripted")
        for agent in (a for a in fleet.agents if a.external):
            click.echo(
                f'  your own agent  {agent.name}: not run by the demo (runtime = "external"); '
                f"`mcos agents token {agent.name}` and run examples/openai_agents_sdk or "
                "examples/langgraph as it (README: Bring your own agent)"
            )
        click.echo(f"  server log      {directory / 'serve.log'}   (Ctrl-C stops everything)")
        asyncio.run(
            _play(fleet, directory, url, token, begin, speed, exit_when_done, mail, service)
        )
    except McosError as exc:
        fail(exc.message, field=exc.field)
    finally:
        _stop(server)


def _demo_fleet(directory: Path, port: int | None) -> tuple[Fleet, str]:
    from mcos.cli.setup import init_fleet
    from mcos.demo.fleet import EXTERNAL, EXTERNAL_SLOT, demo_fleet_text, is_demo_fleet

    fleet_file = directory / FLEET_FILENAME
    if not fleet_file.exists():
        fleet, token, _ = init_fleet(directory, demo_fleet_text(template_text(), port or 8750))
        return fleet, token
    try:
        fleet = load_fleet(fleet_file)
    except FleetFileError as exc:
        fail(exc.message)
    if not is_demo_fleet(fleet):
        fail(
            f"{fleet_file} is a fleet whose agents call real providers; the demo only drives "
            "simulated agents. Give the demo its own folder: mcos demo DIR",
            field="directory",
        )
    if fleet.agent(EXTERNAL) is None:  # a demo folder from before the slot for your own agent
        fleet_file.write_text(fleet_file.read_text().rstrip("\n") + "\n" + EXTERNAL_SLOT)
        try:
            fleet = load_fleet(fleet_file)
        except FleetFileError as exc:
            fail(exc.message)
    token_path = directory / TOKEN_FILE
    if not token_path.is_file():
        fail(f"no operator token at {token_path}; remove {directory} and run the demo again")
    remember_fleet(directory)  # `mcos …` in another terminal talks to the demo that is running
    return fleet, token_path.read_text().strip()


def _serve(directory: Path, host: str, port: int) -> subprocess.Popen[bytes]:
    """``mcos serve`` on the demo's folder, on its own SQLite file whatever MCOS_* says."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MCOS_DATABASE_URL", "MCOS_FLEET", "MCOS_URL", "MCOS_TOKEN")
    }
    with (directory / "serve.log").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcos",
                "serve",
                "--fleet",
                str(directory),
                "--host",
                host,
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_until_up(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-8:])
            fail(f"the control plane did not start (is {url} already in use?):\n{tail}")
        with contextlib.suppress(httpx2.TransportError):
            if httpx2.get(url + paths.HEALTH, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    fail(f"the control plane did not answer at {url} within 30 s; see {log}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


async def _play(
    fleet: Fleet,
    directory: Path,
    url: str,
    token: str,
    begin: datetime,
    speed: float,
    exit_when_done: bool,
    mail: DemoMail,
    service: DemoService,
) -> None:
    from mcos.client import AsyncClient
    from mcos.demo.day import SCENES
    from mcos.demo.director import Director, SimulatedClock, fleet_alive
    from mcos.demo.fleet import demo_agents
    from mcos.runtime.providers.simulated import Script
    from mcos.runtime.runner import Runner

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stopping.is_set():
            service.stop()  # a process of its own, not a child: it would outlive the demo
            os._exit(130)
        click.echo("mcos demo: stopping (again to quit now)", err=True)
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    if mail.running:
        await mail.start_sink()
    script = Script()
    driven = demo_agents(fleet)  # not the slot for an agent you bring: it runs elsewhere
    runner = Runner(
        fleet,
        driven,
        url,
        state_dir=directory / ".mcos" / "runner" / "demo",
        workspaces=directory / "workspaces",
        token=token,
        script=script,
        souls=directory / SOULS_DIR,
    )
    agents = asyncio.create_task(runner.run(stopping))
    async with AsyncClient(url, token, timeout=30, retries=0) as api:
        started = time.monotonic()
        alive = await fleet_alive(api, (a.name for a in driven), ALIVE_SECONDS)
        click.echo(
            f"fleet alive: {alive} of {len(driven)} agents heartbeating after "
            f"{time.monotonic() - started:.1f} s"
        )
        director = Director(
            api,
            fleet,
            script,
            directory / "workspaces",
            SimulatedClock(begin, speed),
            click.echo,
            stop_agent=lambda name: runner.loops[name].stop(),
            service=service,
        )
        await director.play(SCENES, stopping)
        if exit_when_done:
            stopping.set()
        elif not stopping.is_set():
            click.echo("mcos demo: the day is played; the fleet keeps running (Ctrl-C stops it)")
        await stopping.wait()
    await agents
    mail.stop_sink()
