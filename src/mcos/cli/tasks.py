"""``mcos tasks ls|add|move|assign|show``."""

from __future__ import annotations

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client, table
from mcos.contract import paths
from mcos.contract.vocab import Priority
from mcos.domain.kanban import COLUMNS


@click.group()
def tasks() -> None:
    """The Kanban board."""


@tasks.command("ls")
@click.option("--status", type=click.Choice([c.value for c in COLUMNS]))
@click.option("--assignee")
@click.option("--limit", type=int, default=500, show_default=True)
@json_option
@pass_client
def list_tasks(
    client: Client, status: str | None, assignee: str | None, limit: int, as_json: bool
) -> None:
    """Tasks on the board."""
    items = client.get(paths.TASKS, status=status, assignee=assignee, limit=limit)["tasks"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [f"#{t['id']}", t["status"], t["priority"], t["assignee"] or "-", t["title"]]
            for t in items
        ],
        ["ID", "STATUS", "PRIORITY", "ASSIGNEE", "TITLE"],
    )


@tasks.command("add")
@click.argument("title")
@click.option("--description", default="")
@click.option("--assignee")
@click.option(
    "--priority",
    type=click.Choice([p.value for p in Priority]),
    default="normal",
    show_default=True,
)
@click.option("--kind", help="Kind of work, for the value ledger.")
@click.option("--parent", "parent_id", type=int)
@click.option("--depends-on", "depends_on", type=int, multiple=True)
@click.option("--due", "due_at", help="ISO 8601 with a zone, such as 2026-12-01T17:00:00+02:00.")
@json_option
@pass_client
def add_task(
    client: Client,
    title: str,
    description: str,
    assignee: str | None,
    priority: str,
    kind: str | None,
    parent_id: int | None,
    depends_on: tuple[int, ...],
    due_at: str | None,
    as_json: bool,
) -> None:
    """Create a task."""
    body = {
        "title": title,
        "description": description,
        "assignee": assignee,
        "priority": priority,
        "kind": kind,
        "parent_id": parent_id,
        "depends_on": list(depends_on),
        "due_at": due_at,
    }
    task = client.post(paths.TASKS, body)
    if as_json:
        emit_json(task)
    else:
        click.echo(f"#{task['id']} {task['status']}: {task['title']}")


@tasks.command("move")
@click.argument("task_id", type=int)
@click.argument("status", type=click.Choice([c.value for c in COLUMNS]))
@click.option("--reason")
@json_option
@pass_client
def move_task(client: Client, task_id: int, status: str, reason: str | None, as_json: bool) -> None:
    """Move task TASK_ID to column STATUS."""
    task = client.post(paths.move(task_id), {"status": status, "reason": reason})
    if as_json:
        emit_json(task)
    else:
        click.echo(f"#{task['id']} {task['status']}: {task['title']}")


@tasks.command("assign")
@click.argument("task_id", type=int)
@click.argument("agent", required=False)
@json_option
@pass_client
def assign_task(client: Client, task_id: int, agent: str | None, as_json: bool) -> None:
    """Assign task TASK_ID to AGENT (no AGENT unassigns)."""
    task = client.post(paths.assign(task_id), {"assignee": agent})
    if as_json:
        emit_json(task)
    else:
        click.echo(f"#{task['id']} {task['status']} -> {task['assignee'] or 'nobody'}")


@tasks.command("show")
@click.argument("task_id", type=int)
@json_option
@pass_client
def show_task(client: Client, task_id: int, as_json: bool) -> None:
    """One task with its history."""
    task = client.get(paths.task(task_id))
    if as_json:
        emit_json(task)
        return
    click.echo(f"#{task['id']} {task['title']}")
    click.echo(
        f"  status {task['status']}  priority {task['priority']}  "
        f"assignee {task['assignee'] or '-'}  creator {task['creator']}"
    )
    if task["depends_on"]:
        click.echo("  depends on " + ", ".join(f"#{d}" for d in task["depends_on"]))
    if task["description"]:
        click.echo("  " + task["description"])
    click.echo("  history:")
    for event in task["history"]:
        data = event["data"]
        detail = f"{data.get('from')} -> {data.get('to')}" if "to" in data else data.get("body", "")
        click.echo(f"    {event['ts'][:19]}  {event['type']:<14} {event['actor']:<20} {detail}")
