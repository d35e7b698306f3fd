"""``mcos services ls|show NAME``: the watched services, their outages and remedies."""

from __future__ import annotations

from typing import Any

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client, table
from mcos.contract import paths


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7_200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3_600:.1f}h"


@click.group()
def services() -> None:
    """Watched services ([[services]] in the fleet file)."""


@services.command("ls")
@json_option
@pass_client
def list_services(client: Client, as_json: bool) -> None:
    """Every service: state, since, uptime, downtime, MTTR and outages stopped (30 days)."""
    listed = client.get(paths.SERVICES)
    if as_json:
        emit_json(listed)
        return
    table(
        [
            [
                s["name"],
                s["state"],
                s["machine"],
                s["owner"] or "-",
                (s["since"] or "-")[:19],
                f"{s['uptime'] * 100:.2f}%",
                duration(s["downtime_seconds"]),
                duration(s["mttr_seconds"]),
                str(s["outages_stopped"]),
            ]
            for s in listed["services"]
        ],
        ["NAME", "STATE", "MACHINE", "OWNER", "SINCE", "UPTIME", "DOWN", "MTTR", "STOPPED"],
    )


@services.command("show")
@click.argument("name")
@json_option
@pass_client
def show(client: Client, name: str, as_json: bool) -> None:
    """One service: its probe, state, outages and remediations, and the last diagnosis."""
    s: dict[str, Any] = client.get(paths.service(name))
    if as_json:
        emit_json(s)
        return
    click.echo(f"{s['name']} ({s['kind']} {s['target']}) on {s['machine']}, owner {s['owner']}")
    click.echo(f"  {s['state']} since {(s['since'] or '-')[:19]}: {s['detail']}")
    click.echo(
        f"  uptime {s['uptime'] * 100:.2f}%, down {duration(s['downtime_seconds'])}, "
        f"MTTR {duration(s['mttr_seconds'])}, {s['outages']} outage(s), "
        f"{s['outages_stopped']} stopped; severity {s['severity']}"
    )
    remedies = ", ".join(f"{k} ({v})" for k, v in s["remedies"].items()) or "none"
    click.echo(f"  remedies: {remedies}{'; auto_restart' if s['auto_restart'] else ''}")
    for o in s["history"]:
        end = (o["ended_at"] or "still down")[:19]
        how = f", recovered by {o['recovered_by']}" if o["recovered_by"] else ""
        click.echo(
            f"  outage #{o['id']} {o['started_at'][:19]} - {end} "
            f"({duration(o['downtime_seconds'])}{how}); incident #{o['incident_id']}, "
            f"task #{o['task_id']}"
        )
    for r in s["remediations"]:
        status = "ok" if r["ok"] else f"exit {r['exit_status']}"
        click.echo(f"  {r['at'][:19]} {r['action']} by {r['by']}: {status}")
    if s["last_diagnosis"]:
        click.echo("\nLast diagnosis:\n" + s["last_diagnosis"])
