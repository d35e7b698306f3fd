"""The ``mcos`` command line: grouped by noun; everything but setup talks to the HTTP API."""

from __future__ import annotations

import os

import click

from mcos import __version__
from mcos.cli._context import make_client
from mcos.cli.agents import agents
from mcos.cli.approvals import approvals
from mcos.cli.artifacts import artifacts
from mcos.cli.backup import backup, restore
from mcos.cli.brief import brief
from mcos.cli.committees import committees
from mcos.cli.db import db
from mcos.cli.demo import demo
from mcos.cli.events import events
from mcos.cli.incidents import incidents
from mcos.cli.legal import legal
from mcos.cli.mail import mail
from mcos.cli.mcp import mcp
from mcos.cli.memory import memory
from mcos.cli.messages import messages
from mcos.cli.notify import notify
from mcos.cli.openclaw import export, import_
from mcos.cli.operators import operators
from mcos.cli.registry import registry
from mcos.cli.route import route
from mcos.cli.run import run
from mcos.cli.schedules import schedules
from mcos.cli.service import service
from mcos.cli.services import services
from mcos.cli.setup import fleet, init, serve
from mcos.cli.souls import souls
from mcos.cli.tasks import tasks
from mcos.cli.tokens import tokens
from mcos.cli.usage import usage

LOCAL_COMMANDS = {
    "init",
    "serve",
    "fleet",
    "demo",
    "souls",
    "import",
    "export",
    "backup",
    "restore",
    "db",
    "service",
}
"""Commands that work on files; every other one talks to the control plane's API."""


@click.group()
@click.version_option(__version__, prog_name="mcos")
@click.option("--fleet", "fleet_dir", envvar="MCOS_FLEET", help="Fleet file or its folder.")
@click.option("--url", envvar="MCOS_URL", help="Control plane URL (default: the fleet's).")
@click.option("--token", envvar="MCOS_TOKEN", help="Bearer token (default: the operator's).")
@click.pass_context
def cli(ctx: click.Context, fleet_dir: str | None, url: str | None, token: str | None) -> None:
    """Mission Control OS: run and watch a fleet of LLM agents."""
    # Fleet state (the database, workspaces, .mcos) is the owner's alone: 0700 folders,
    # 0600 files, whatever the shell's umask.
    os.umask(0o077)
    if ctx.invoked_subcommand not in LOCAL_COMMANDS:
        ctx.obj = make_client(fleet_dir, url, token)


for command in (
    init,
    serve,
    run,
    fleet,
    agents,
    tasks,
    messages,
    events,
    approvals,
    committees,
    incidents,
    memory,
    usage,
    brief,
    schedules,
    route,
    tokens,
    operators,
    mail,
    mcp,
    notify,
    registry,
    services,
    service,
    artifacts,
    legal,
    demo,
    souls,
    import_,
    export,
    backup,
    restore,
    db,
):
    cli.add_command(command)


def main() -> None:
    cli()
