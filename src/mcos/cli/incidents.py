"""``mcos incidents ls|show|raise|confirm|dismiss``: the escalation queue."""

from __future__ import annotations

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client, table
from mcos.contract import paths
from mcos.contract.vocab import SEVERITIES


@click.group()
def incidents() -> None:
    """Incidents and the escalation queue."""


@incidents.command("ls")
@click.option("--status", type=click.Choice(["unconfirmed", "confirmed", "dismissed", "logged"]))
@json_option
@pass_client
def list_incidents(client: Client, status: str | None, as_json: bool) -> None:
    """Incidents, newest first; unconfirmed ones are the escalation queue."""
    items = client.get(paths.INCIDENTS, status=status)["incidents"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [f"#{i['id']}", i["severity"], i["status"], i["reporter"], i["reach"], i["title"][:70]]
            for i in items
        ],
        ["ID", "SEV", "STATUS", "REPORTER", "REACH", "TITLE"],
    )


@incidents.command("show")
@click.argument("incident_id", type=int)
@json_option
@pass_client
def show(client: Client, incident_id: int, as_json: bool) -> None:
    """One incident, with who resolved it and why."""
    incident = client.get(paths.incident(incident_id))
    if as_json:
        emit_json(incident)
        return
    click.echo(
        f"#{incident['id']} {incident['severity']} {incident['status']}: {incident['title']}"
    )
    click.echo(
        f"  reported by {incident['reporter']} at {incident['ts'][:19]}; reach {incident['reach']}"
    )
    if incident["body"]:
        click.echo(f"  {incident['body']}")
    if incident["resolved_by"]:
        why = f": {incident['resolution']}" if incident["resolution"] else ""
        click.echo(f"  {incident['status']} by {incident['resolved_by']}{why}")


@incidents.command("raise")
@click.argument("severity", type=click.Choice(SEVERITIES))
@click.argument("title")
@click.option("--body", default="")
@click.option("--agent", help="The reporting agent (operators only).")
@json_option
@pass_client
def raise_incident(
    client: Client, severity: str, title: str, body: str, agent: str | None, as_json: bool
) -> None:
    """Raise an incident; the escalation table says who must confirm it."""
    incident = client.post(
        paths.INCIDENTS, {"severity": severity, "title": title, "body": body, "agent": agent}
    )
    if as_json:
        emit_json(incident)
    else:
        click.echo(f"#{incident['id']} {incident['severity']} {incident['status']}")


@incidents.command("confirm")
@click.argument("incident_id", type=int)
@click.option("--comment", default="")
@json_option
@pass_client
def confirm(client: Client, incident_id: int, comment: str, as_json: bool) -> None:
    """Confirm, for the party you stand for."""
    incident = client.post(paths.decide_incident(incident_id, "confirm"), {"comment": comment})
    if as_json:
        emit_json(incident)
    else:
        click.echo(f"#{incident['id']} {incident['status']}")


@incidents.command("dismiss")
@click.argument("incident_id", type=int)
@click.option("--reason", required=True, help="Why: recorded with the incident.")
@json_option
@pass_client
def dismiss(client: Client, incident_id: int, reason: str, as_json: bool) -> None:
    """Dismiss a false alarm, saying why."""
    incident = client.post(paths.decide_incident(incident_id, "dismiss"), {"comment": reason})
    if as_json:
        emit_json(incident)
    else:
        click.echo(f"#{incident['id']} {incident['status']} by {incident['resolved_by']}")
