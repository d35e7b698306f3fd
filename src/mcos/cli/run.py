"""``mcos run``: run this machine's agents against the control plane."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from pathlib import Path

import click

from mcos.cli._context import Client, fail, find_fleet_dir
from mcos.errors import McosError
from mcos.fleet.loader import FLEET_FILENAME, load_fleet
from mcos.fleet.schema import Fleet
from mcos.fleet.soul_templates import SOULS_DIR


def pick_machine(fleet: Fleet, machine: str | None, client: Client) -> str | None:
    """The machine asked for; else the only one; else the runner token's; else the one named
    like this host."""
    if machine is not None:
        return machine
    if len(fleet.machines) == 1:
        return fleet.machines[0].name
    from mcos.runtime.runner import RUNNER_PREFIX

    if client.token is not None and client.token.startswith(RUNNER_PREFIX):
        scope: str = client.get("/api/v1/tokens/current")["machine"]
        return scope
    host = socket.gethostname().split(".")[0].lower()
    if any(m.name == host for m in fleet.machines):
        return host
    names = ", ".join(m.name for m in fleet.machines)
    fail(f"this fleet has several machines ({names}); say which with --machine", field="--machine")


@click.command()
@click.option(
    "--machine",
    help="Run the agents of this machine (default: a runner token's machine, else the host's "
    "name).",
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
@click.pass_context
def run(
    ctx: click.Context,
    machine: str | None,
    agent_names: tuple[str, ...],
    workspaces: Path | None,
    script: Path | None,
    verbose: bool,
) -> None:
    """Run the agents of one machine: models, tools, gauge, budgets, all reported live.

    Each agent uses only its own credential, the environment variable its `credential` names.
    Stop with Ctrl-C or SIGTERM: every agent finishes its current step first.
    """
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
    if folder is None:
        fail("no fleet found: pass --fleet DIR, set MCOS_FLEET, or run `mcos init DIR`")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpx2"):  # a line per request, the runner's and the client's
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        fleet = load_fleet(folder / FLEET_FILENAME)
        machine = pick_machine(fleet, machine, client)
        chosen = select_agents(fleet, machine, agent_names)
        problems = check_agents(fleet, chosen, dict(os.environ))
        if problems:
            fail("cannot start:\n" + "\n".join(str(p) for p in problems))
        runner = Runner(
            fleet,
            chosen,
            client.url,
            state_dir=folder / ".mcos" / "runner" / (machine or "all-machines"),
            workspaces=workspaces or folder / "workspaces",
            token=client.token,
            script=Script.from_file(script) if script else None,
            souls=folder / SOULS_DIR,
        )
    except McosError as exc:
        fail(exc.message, field=exc.field)
    for warning in [*retiring_models(chosen), *sandbox_notes(fleet, chosen)]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"mcos run: {len(chosen)} agents ({', '.join(a.name for a in chosen)}) -> {client.url}",
        err=True,
    )
    try:
        left = asyncio.run(_run_until_signal(runner))
    except McosError as exc:
        fail(exc.message, field=exc.field)
    click.echo(f"mcos run: stopped ({left} reports left in the outbox)", err=True)


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
