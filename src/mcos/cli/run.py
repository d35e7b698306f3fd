"""``mcos run``: run this machine's agents against the control plane."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mcos import telemetry
from mcos.cli._context import (
    Client,
    counted,
    fail,
    find_fleet_dir,
    log_format_option,
    tune_garbage_collector,
)
from mcos.contract import paths
from mcos.errors import McosError
from mcos.fleet.loader import FLEET_FILENAME, load_fleet
from mcos.fleet.schema import Fleet
from mcos.fleet.soul_templates import SOULS_DIR
from mcos.settings import Settings

if TYPE_CHECKING:
    from mcos.logs import LogFormat


def pick_machine(fleet: Fleet, machine: str | None, client: Client) -> str:
    """The machine asked for; else the runner token's; else the fleet's only one.

    Never the host's name: a Mac renamed, or a VPS called like a machine of the fleet, would
    otherwise start another machine's agents, with their credentials, without a word.
    """
    if machine is not None:
        return machine
    from mcos.runtime.runner import RUNNER_PREFIX

    if client.token is not None and client.token.startswith(RUNNER_PREFIX):
        scope: str = client.get(paths.TOKENS_CURRENT)["machine"]
        return scope
    if len(fleet.machines) == 1:
        return fleet.machines[0].name
    names = ", ".join(m.name for m in fleet.machines)
    fail(
        f"this fleet has several machines ({names}): say which with --machine, or run with "
        "that machine's runner token (`mcos tokens issue --runner MACHINE`)",
        field="--machine",
    )


@click.command()
@click.option(
    "--machine",
    help="Run the agents of this machine (default: a runner token's machine, else the fleet's "
    "only machine).",
)
@click.option("--agent", "agent_names", multiple=True, help="Only this agent (repeatable).")
@click.option(
    "--workspaces",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where agents keep SOUL.md, memory/ and their files (default: FLEET/workspaces).",
)
@click.option(
    "--script",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Script for agents on the simulated provider (TOML or JSON).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every step.")
@log_format_option
@click.pass_context
def run(
    ctx: click.Context,
    machine: str | None,
    agent_names: tuple[str, ...],
    workspaces: Path | None,
    script: Path | None,
    verbose: bool,
    log_format: LogFormat | None,
) -> None:
    """Run the agents of one machine: models, tools, gauge, budgets, all reported live.

    Each agent uses only its own credential, the environment variable its `credential` names.
    Stop with Ctrl-C or SIGTERM: every agent finishes its current step first.
    """
    from mcos.runtime.fleet_follow import FleetFollow
    from mcos.runtime.providers.simulated import Script
    from mcos.runtime.runner import (
        Runner,
        check_agents,
        retiring_models,
        sandbox_notes,
        select_agents,
    )

    client = ctx.find_object(Client)
    assert client is not None  # the group made it
    folder = find_fleet_dir(ctx.find_root().params.get("fleet_dir"))
    if folder is None and not client.token:
        fail(
            "no fleet found: pass --fleet DIR, set MCOS_FLEET, or run `mcos init DIR`; or, to "
            "take the fleet from the control plane, pass --url and --token (a runner token)"
        )
    from mcos.logs import configure_logging  # uvicorn's formatters: not for every command

    configure_logging(
        log_format or Settings().log_format,
        "DEBUG" if verbose else "INFO",
        text="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    # httpx2 logs a line per request at INFO (the runner's and the client's): too many.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    follow: FleetFollow | None = None
    version: str | None = None
    try:
        if folder is not None:
            fleet = load_fleet(folder / FLEET_FILENAME)
            machine = pick_machine(fleet, machine, client)
            home = folder
        else:
            # No fleet.toml here: the control plane's fleet, followed while it runs.
            assert client.token is not None
            fleet, machine, version = remote_fleet(client, machine)
            follow = FleetFollow(client.token, machine, Settings().fleet_poll_seconds)
            home = Path.cwd()
        chosen = select_agents(fleet, machine, agent_names)
        problems = check_agents(fleet, chosen, dict(os.environ))
        if problems:
            fail("cannot start:\n" + "\n".join(str(p) for p in problems))
        runner = Runner(
            fleet,
            chosen,
            client.url,
            state_dir=home / ".mcos" / "runner" / machine,
            workspaces=workspaces or home / "workspaces",
            token=client.token,
            script=Script.from_file(script) if script else None,
            souls=home / SOULS_DIR,
            follow=follow,
            fleet_version=version,
            only=frozenset(agent_names),
        )
    except McosError as exc:
        fail(exc.message, field=exc.field)
    for warning in [*retiring_models(chosen), *sandbox_notes(fleet, chosen)]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"mcos run: {counted(len(chosen), 'agent')} ({', '.join(a.name for a in chosen)}) "
        f"-> {client.url}",
        err=True,
    )
    if follow is not None and version is not None:
        click.echo(
            f"mcos run: fleet version {version[:12]} from the control plane, checked every "
            f"{follow.every_seconds:g} s",
            err=True,
        )
    if telemetry.configure("mcos-run") is not None:
        click.echo("mcos run: exporting GenAI spans over OTLP", err=True)
    tune_garbage_collector()
    try:
        left = asyncio.run(_run_until_signal(runner))
    except McosError as exc:
        fail(exc.message, field=exc.field)
    finally:
        telemetry.flush()
    click.echo(f"mcos run: stopped ({left} reports left in the outbox)", err=True)


def remote_fleet(client: Client, machine: str | None) -> tuple[Fleet, str, str]:
    """The fleet the control plane shows this token, its machine and its version."""
    from pydantic import ValidationError

    from mcos.fleet.view import fleet_from_view

    body = client.get(paths.FLEET, **({"machine": machine} if machine else {}))
    if body.get("scope") == "fleet":
        fail(
            "an operator's token sees the whole fleet: say which machine to run with --machine",
            field="--machine",
        )
    if body.get("scope") == "agent":
        fail(
            "an agent's token runs nothing here: give the runner token of its machine "
            "(`mcos tokens issue --runner MACHINE`)",
            field="--token",
        )
    try:
        fleet = fleet_from_view(body["fleet"])
    except (KeyError, ValidationError) as exc:
        fail(f"the control plane's fleet could not be read: {exc}")
    return fleet, str(body["machine"]), str(body["version"])


async def _run_until_signal(runner: object) -> int:
    from mcos.runtime.runner import Runner

    assert isinstance(runner, Runner)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stopping.is_set():
            os._exit(130)  # asked twice: the operator wants out now, mid-step or not
        click.echo(
            "mcos run: stopping after each agent's current step (again to quit now)", err=True
        )
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    return await runner.run(stopping)
