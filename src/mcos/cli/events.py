"""``mcos events tail``: follow the live stream, reconnecting with Last-Event-ID."""

from __future__ import annotations

import time
from typing import Any, NoReturn

import click
import httpx2
import orjson

from mcos.cli._context import Client, fail, json_option, pass_client
from mcos.client.errors import ApiError, error_of
from mcos.contract import paths
from mcos.sse import parse_frames
from mcos.stream import RESYNC
from mcos.tls import trust_context

IDLE_TIMEOUT_SECONDS = 90.0
"""The server sends a keep-alive every 15 s by default; this much silence means a dead link."""


def summary(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    kind = event["type"]
    if kind == "agent.heartbeat":
        gauge = data.get("gauge") or {}
        tokens = f" gauge {gauge.get('tokens')}/{gauge.get('window')}" if gauge else ""
        return f"{data.get('agent')} {data.get('status')}{tokens}"
    if kind.startswith("task."):
        return f"#{data.get('task', data.get('id'))} {data.get('from', '')}->{data.get('to', '')}"
    if kind == "policy.decided":
        action = data.get("action") or {}
        what = f"{action.get('kind')} {action.get('command') or ''}".strip()
        why = data.get("refused") or data.get("reason") or ""
        return f"{data.get('agent')} {what} -> {data.get('outcome')}: {why}"[:160]
    if kind.startswith("incident."):
        return (
            f"#{data.get('id')} {data.get('severity')} {data.get('status')} "
            f"{data.get('reporter')}: {data.get('title')}"
        )
    if kind.startswith("approval."):
        what = data.get("kind") or data.get("decision") or ""
        refused = f" refused: {data['refused']}" if data.get("refused") else ""
        return (
            f"#{data.get('approval', data.get('id'))} {what} {data.get('agent') or ''}"
            f"{refused}".rstrip()[:160]
        )
    if kind == "memory.flushed":
        day, chars = data.get("day"), data.get("chars")
        return f"{data.get('agent')} wrote its {day} memory note ({chars} chars)"
    if kind in ("memory.compacted", "memory.compaction_refused"):
        verb = "compacted" if kind == "memory.compacted" else "was refused compaction of"
        return (
            f"{data.get('agent')} {verb} {data.get('tokens_before')} -> "
            f"{data.get('tokens_after')} tokens"
        )
    if kind == "agent.cooling_down":
        return (
            f"{data.get('agent')} {data.get('credential')} rate limited until {data.get('until')}"
        )
    if kind == "usage.recorded":
        return (
            f"{data.get('agent')} {data.get('model')} in {data.get('input_tokens')} "
            f"out {data.get('output_tokens')} ${data.get('cost_usd', 0):.4f}"
        )
    if kind == "runtime.task_escalated":
        return (
            f"{data.get('agent')} #{data.get('task_id')} escalated to "
            f"{data.get('supervisor')}: {data.get('reason')}"
        )[:160]
    if kind == "message.sent":
        to = data.get("to") or data.get("channel") or "fleet"
        return f"{data.get('kind')} to {to}: {str(data.get('body'))[:60]}"
    return orjson.dumps(data).decode()[:100]


@click.group()
def events() -> None:
    """The event log."""


@events.command("tail")
@click.option(
    "--after",
    type=click.IntRange(min=0),
    help="Start after this sequence number (0: from the start; default: now).",
)
@click.option("--types", help="Comma-separated types; 'task.*' matches a namespace.")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@json_option
@pass_client
def tail(
    client: Client, after: int | None, types: str | None, count: int | None, as_json: bool
) -> None:
    """Follow events as they happen; reconnects and resumes where it left off.

    Events go to stdout, one line each; notes on the connection go to stderr.
    """
    last: int | None = after
    seen = 0
    failures = 0
    connections = 0
    while True:
        headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
        if last is not None:
            headers["Last-Event-ID"] = str(last)
        params = {"types": types} if types else {}
        try:
            with httpx2.stream(
                "GET",
                client.url + paths.STREAM,
                headers=headers,
                params=params,
                timeout=httpx2.Timeout(10, read=IDLE_TIMEOUT_SECONDS),
                verify=trust_context(),
            ) as response:
                if response.status_code >= 400:
                    _fail_with(response)
                failures = 0
                connections += 1
                for frame in parse_frames(response.iter_lines()):
                    if frame.id is not None:
                        last = frame.id
                    if frame.event == RESYNC:
                        click.echo(f"-- fell behind; resuming after seq {last}", err=True)
                        break
                    if frame.data is None:  # the opening frame: where this connection starts
                        verb = "following" if connections == 1 else "resumed"
                        click.echo(f"-- {verb} the event log after seq {last}", err=True)
                        continue
                    event = orjson.loads(frame.data)
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
        except httpx2.TransportError:
            failures += 1
            if failures == 1:
                where = "" if last is None else f" after seq {last}"
                click.echo(f"-- lost the stream; reconnecting to resume{where}", err=True)
            if failures > 30:
                fail(f"cannot reach the control plane at {client.url}")
            time.sleep(min(2.0, 0.2 * failures))


def _fail_with(response: httpx2.Response) -> NoReturn:
    error = error_of(response.status_code, response.read(), paths.STREAM)
    if isinstance(error, ApiError):
        fail(error.message, field=error.field)
    fail(error.detail or error.message)
