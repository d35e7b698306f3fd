"""The ``mcos`` command line: grouped by noun; everything but setup talks to the HTTP API.

A command's module is imported when that command runs (or when ``--help`` lists them all), so
``mcos tasks ls`` pays for the HTTP client and not for the control plane, the database layer or
the demo: tests run the CLI hundreds of times.
"""

from __future__ import annotations

import importlib
import os

import click

from mcos import __version__

COMMANDS = {
    "init": "setup",
    "serve": "setup",
    "run": "run",
    "fleet": "setup",
    "agents": "agents",
    "tasks": "tasks",
    "messages": "messages",
    "events": "events",
    "approvals": "approvals",
    "committees": "committees",
    "incidents": "incidents",
    "memory": "memory",
    "usage": "usage",
    "brief": "brief",
    "schedules": "schedules",
    "route": "route",
    "tokens": "tokens",
    "operators": "operators",
    "mail": "mail",
    "mcp": "mcp",
    "notify": "notify",
    "registry": "registry",
    "services": "services",
    "service": "service",
    "artifacts": "artifacts",
    "legal": "legal",
    "demo": "demo",
    "souls": "souls",
    "import": "openclaw",
    "export": "openclaw",
    "backup": "backup",
    "restore": "backup",
    "db": "db",
}
"""Each command's name and the module of ``mcos.cli`` that defines it (under that name, or
``import_`` for ``import``)."""

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


class LazyGroup(click.Group):
    """A group whose commands are imported by name, on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module = importlib.import_module(f"mcos.cli.{COMMANDS[cmd_name]}")
            command = getattr(module, "import_" if cmd_name == "import" else cmd_name)
            assert isinstance(command, click.Command), cmd_name
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup)
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
        from mcos.cli._context import make_client

        ctx.obj = make_client(fleet_dir, url, token)


def main() -> None:
    cli()
