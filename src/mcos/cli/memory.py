"""``mcos memory ls AGENT``: an agent's daily memory notes, as it reads them on waking."""

from __future__ import annotations

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client
from mcos.contract import paths


@click.group()
def memory() -> None:
    """Agents' memory notes (the pre-compaction flush)."""


@memory.command("ls")
@click.argument("agent")
@click.option("--day", "days", multiple=True, help="YYYY-MM-DD; default today and yesterday.")
@json_option
@pass_client
def list_notes(client: Client, agent: str, days: tuple[str, ...], as_json: bool) -> None:
    """AGENT's notes by day."""
    notes = client.get(paths.memory(agent), day=list(days) or None)["notes"]
    if as_json:
        emit_json(notes)
        return
    if not notes:
        click.echo(f"{agent} has no memory notes for those days")
    for note in notes:
        click.echo(f"## {note['day']}  ({note['ts'][11:19]})\n{note['content']}\n")
