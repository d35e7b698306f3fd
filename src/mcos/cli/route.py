"""``mcos route TITLE``: ask the router who should do a piece of work, and why."""

from __future__ import annotations

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client
from mcos.contract import paths
from mcos.contract.vocab import Priority


@click.command("route")
@click.argument("title")
@click.option("--description", default="", help="More about the work; its words match too.")
@click.option("--kind", default=None, help="Kind of work, such as legal-document.")
@click.option(
    "--priority",
    type=click.Choice([p.value for p in Priority]),
    default="normal",
    show_default=True,
)
@click.option("--capability", "capabilities", multiple=True, help="A capability it needs.")
@click.option("--dry-run", is_flag=True, help="Only decide and explain; create no task.")
@json_option
@pass_client
def route(
    client: Client,
    title: str,
    description: str,
    kind: str | None,
    priority: str,
    capabilities: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Route TITLE to the agent whose role and capabilities fit, by the fleet's [[routing]]."""
    body = {
        "title": title,
        "description": description,
        "kind": kind,
        "priority": priority,
        "capabilities": list(capabilities),
        "dry_run": dry_run,
    }
    result = client.post(paths.ROUTE, body)
    if as_json:
        emit_json(result)
        return
    task = result["task"]
    if result["agent"] is None:
        where = f"task #{task['id']} waits in the inbox" if task else "nothing created (dry run)"
        click.echo(f"nobody chosen; {where}")
    elif task is None:
        click.echo(f"would route to {result['agent']} (dry run; nothing created)")
    else:
        click.echo(f"routed task #{task['id']} to {result['agent']}")
    for line in result["explanation"].splitlines():
        click.echo(f"  {line}")
