"""``mcos schedules ls|run``: the fleet file's schedules, their next and last runs."""

from __future__ import annotations

from typing import Any

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client, table
from mcos.contract import paths


def _last(run: dict[str, Any] | None) -> str:
    if run is None:
        return "-"
    task = f" task #{run['task']}" if run["task"] else ""
    return f"{run['fired_at'][:16]} {run['trigger']} {run['outcome']}{task}"


@click.group()
def schedules() -> None:
    """Cron-style schedules from the fleet file: recurring tasks, heartbeats, the briefing."""


@schedules.command("ls")
@json_option
@pass_client
def list_schedules(client: Client, as_json: bool) -> None:
    """Every schedule with its next run, last run and missed runs."""
    items = client.get(paths.SCHEDULES)["schedules"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [
                s["name"],
                s["cron"],
                s["timezone"],
                s["action"]["action"],
                s["next_run"][:16],
                _last(s["last_run"]),
                s["missed"],
            ]
            for s in items
        ],
        ["NAME", "CRON", "TIME ZONE", "ACTION", "NEXT RUN", "LAST RUN", "MISSED"],
    )


@schedules.command("run")
@click.argument("name")
@json_option
@pass_client
def run_schedule(client: Client, name: str, as_json: bool) -> None:
    """Run schedule NAME now (recorded as a manual run)."""
    run = client.post(paths.run_schedule(name), {})
    if as_json:
        emit_json(run)
        return
    what = (
        f"task #{run['task']} for {run['assignee']}"
        if run.get("task")
        else (f"nudged {', '.join(run.get('nudged', []))}")
    )
    click.echo(f"ran {run['schedule']} (run {run['run']}): {what}")
