"""``mcos brief``: the morning briefing, on demand."""

from __future__ import annotations

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client
from mcos.contract import paths


@click.command("brief")
@click.option(
    "--hours", type=click.IntRange(1, 24 * 31), default=24, show_default=True, help="Look back."
)
@json_option
@pass_client
def brief(client: Client, hours: int, as_json: bool) -> None:
    """The last day of the fleet as Markdown: work, incidents, decisions, spend, plans."""
    data = client.get(paths.BRIEFING, hours=hours)
    if as_json:
        emit_json(data)
    else:
        click.echo(data["markdown"], nl=False)
