"""``mcos notify ls|test``: the channels that reach the operator, and whether they still do."""

from __future__ import annotations

import sys
from typing import Any

import click

from mcos.cli._context import Client, emit_json, fail, json_option, pass_client, table
from mcos.contract import paths


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "-"


@click.group()
def notify() -> None:
    """Notify channels: email, webhook and Telegram, carrying what you chose."""


@notify.command("ls")
@click.option("--deliveries", is_flag=True, help="Also the recent deliveries.")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Deliveries."
)
@json_option
@pass_client
def list_channels(client: Client, deliveries: bool, limit: int, as_json: bool) -> None:
    """Each channel with its health; a failing one says since when and why.

    ``--json`` prints the channels and the recent deliveries.
    """
    overview = client.get(paths.NOTIFY, limit=limit)
    if as_json:
        emit_json(overview)
        return
    channels: list[dict[str, Any]] = overview["channels"]
    table(
        [
            [
                c["name"],
                c["kind"],
                ",".join(c["carries"]),
                "FAILING" if c["status"] == "failing" else c["status"],
                c["sent"],
                _when(c["last_sent_at"]),
                c["waiting"],
            ]
            for c in channels
        ],
        ["NAME", "KIND", "CARRIES", "STATUS", "SENT", "LAST SENT", "WAITING"],
    )
    for c in channels:
        if c["status"] == "failing":
            click.echo(f"{c['name']}: FAILING since {_when(c['failing_since'])}: {c['error']}")
    if deliveries:
        click.echo()
        table(
            [
                [
                    f"#{d['id']}",
                    d["channel"],
                    d["kind"],
                    d["status"],
                    d["attempts"],
                    _when(d["sent_at"] or d["created_at"]),
                    d["subject"][:60],
                    d["last_error"] or "",
                ]
                for d in overview["deliveries"]
            ],
            ["ID", "CHANNEL", "KIND", "STATUS", "TRIES", "WHEN", "SUBJECT", "ERROR"],
        )


@notify.command("test")
@click.argument("name")
@json_option
@pass_client
def test_channel(client: Client, name: str, as_json: bool) -> None:
    """Send a test through channel NAME now; exits non-zero when it did not arrive."""
    result = client.post(paths.notify_test(name), {})
    if as_json:
        emit_json(result)
        if not result["ok"]:
            sys.exit(1)
        return
    if not result["ok"]:
        fail(f"the test through {name!r} did not arrive: {result['error']}")
    click.echo(f"{name}: the test arrived ({result['delivery']})")
