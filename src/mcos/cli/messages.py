"""``mcos messages send|ls``."""

from __future__ import annotations

import click

from mcos.cli._context import Client, emit_json, fail, json_option, pass_client, table
from mcos.contract import paths
from mcos.contract.vocab import MessageKind


@click.group()
def messages() -> None:
    """Messages between agents, channels and the fleet."""


@messages.command("send")
@click.argument("body")
@click.option("--to", help="An agent.")
@click.option("--channel", help="A channel.")
@click.option("--fleet", "to_fleet", is_flag=True, help="Every agent.")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in MessageKind]),
    default="chat",
    show_default=True,
)
@click.option("--task", "task_id", type=int)
@json_option
@pass_client
def send(
    client: Client,
    body: str,
    to: str | None,
    channel: str | None,
    to_fleet: bool,
    kind: str,
    task_id: int | None,
    as_json: bool,
) -> None:
    """Send BODY to an agent, a channel or the fleet."""
    if sum([to is not None, channel is not None, to_fleet]) != 1:
        fail("give exactly one of --to, --channel or --fleet", code=2)
    message = client.post(
        paths.MESSAGES,
        {
            "body": body,
            "to": to,
            "channel": channel,
            "fleet": to_fleet,
            "kind": kind,
            "task_id": task_id,
        },
    )
    if as_json:
        emit_json(message)
    else:
        click.echo(f"message {message['id']} sent")


@messages.command("ls")
@click.option("--agent")
@click.option("--channel")
@click.option("--kind", type=click.Choice([k.value for k in MessageKind]))
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@pass_client
def list_messages(
    client: Client,
    agent: str | None,
    channel: str | None,
    kind: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The message log, newest last."""
    items = client.get(paths.MESSAGES, agent=agent, channel=channel, kind=kind, limit=limit)[
        "messages"
    ]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [
                m["id"],
                m["ts"][:19],
                m["kind"],
                m["sender"],
                m["to"] or (f"#{m['channel']}" if m["channel"] else "fleet"),
                m["body"][:80],
            ]
            for m in items
        ],
        ["ID", "TIME", "KIND", "FROM", "TO", "BODY"],
    )
