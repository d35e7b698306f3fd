"""``mcos events tail``: follow the live stream, reconnecting with Last-Event-ID."""

from __future__ import annotations

import time
from typing import Any

import click
import httpx
import orjson

from mcos.cli._context import Client, fail, json_option, pass_client


def summary(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    kind = event["type"]
    if kind == "agent.heartbeat":
        gauge = data.get("gauge") or {}
        tokens = f" gauge {gauge.get('tokens')}/{gauge.get('window')}" if gauge else ""
        return f"{data.get('agent')} {data.get('status')}{tokens}"
    if kind.startswith("task."):
        return f"#{data.get('task', data.get('id'))} {data.get('from', '')}->{data.get('to', '')}"
    if kind == "message.sent":
        to = data.get("to") or data.get("channel") or "fleet"
        return f"{data.get('kind')} to {to}: {str(data.get('body'))[:60]}"
    return orjson.dumps(data).decode()[:100]


@click.group()
def events() -> None:
    """The event log."""


@events.command("tail")
@click.option("--after", type=int, help="Start after this sequence number (0: from the start).")
@click.option("--types", help="Comma-separated types; 'task.*' matches a namespace.")
@click.option("--count", type=int, help="Stop after this many events.")
@json_option
@pass_client
def tail(
    client: Client, after: int | None, types: str | None, count: int | None, as_json: bool
) -> None:
    """Follow events as they happen; reconnects and resumes where it left off."""
    last: int | None = after
    seen = 0
    failures = 0
    while True:
        headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
        if last is not None:
            headers["Last-Event-ID"] = str(last)
        params = {"types": types} if types else {}
        try:
            with httpx.stream(
                "GET",
                client.url + "/api/v1/stream",
                headers=headers,
                params=params,
                timeout=httpx.Timeout(10, read=None),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    error = response.json().get("error", {})
                    fail(
                        error.get("message", f"HTTP {response.status_code}"),
                        field=error.get("field"),
                    )
                failures = 0
                for event in _parse(response.iter_lines()):
                    if event is None:
                        continue
                    last = event["seq"]
                    if as_json:
                        click.echo(orjson.dumps(event).decode())
                    else:
                        click.echo(
                            f"{event['seq']:>8}  {event['ts'][11:19]}  "
                            f"{event['type']:<24} {event['actor']:<20} {summary(event)}"
                        )
                    seen += 1
                    if count is not None and seen >= count:
                        return
        except httpx.TransportError:
            failures += 1
            if failures == 1:
                click.echo(f"-- lost the stream; reconnecting after seq {last}", err=True)
            if failures > 30:
                fail(f"cannot reach the control plane at {client.url}")
            time.sleep(min(2.0, 0.2 * failures))


def _parse(lines: Any) -> Any:
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield orjson.loads("\n".join(data))
                data = []
            continue
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
