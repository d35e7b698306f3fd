"""``mcos agents ls|show|nudge|token``."""

from __future__ import annotations

from typing import Any

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client, table
from mcos.contract import paths


def gauge_text(gauge: dict[str, Any] | None) -> str:
    if not gauge:
        return "-"
    mark = " FLUSH" if gauge["past_flush_line"] else ""
    used, window = gauge["tokens"] // 1000, gauge["window"] // 1000
    return f"{gauge['fraction'] * 100:.0f}% ({used}k/{window}k){mark}"


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.0f}h ago"


@click.group()
def agents() -> None:
    """The fleet's agents."""


@agents.command("ls")
@click.option("--machine", help="Only agents on this machine.")
@click.option("--liveness", help="Only agents in this state (working, idle, stalled, offline).")
@json_option
@pass_client
def list_agents(client: Client, machine: str | None, liveness: str | None, as_json: bool) -> None:
    """Every agent: liveness, context gauge, last heartbeat, current task."""
    items = client.get(paths.AGENTS)["agents"]
    items = [
        a
        for a in items
        if (machine is None or a["machine"] == machine)
        and (liveness is None or a["liveness"] == liveness)
    ]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [
                a["name"],
                a["role"],
                a["machine"],
                a["liveness"],
                gauge_text(a["gauge"]),
                ago(a["seconds_since_heartbeat"]),
                f"#{a['current_task']}" if a["current_task"] else "-",
                a["note"] or "",
            ]
            for a in items
        ],
        ["NAME", "ROLE", "MACHINE", "LIVENESS", "GAUGE", "HEARTBEAT", "TASK", "NOTE"],
    )


@agents.command("show")
@click.argument("name")
@json_option
@pass_client
def show_agent(client: Client, name: str, as_json: bool) -> None:
    """One agent in full."""
    agent = client.get(paths.agent(name))
    if as_json:
        emit_json(agent)
        return
    rows = [
        ("name", f"{agent['display_name']} ({agent['name']})"),
        ("role", f"{agent['role']} — {agent['title']}"),
        ("machine", agent["machine"]),
        ("model", f"{agent['provider']}/{agent['model']}"),
        (
            "credential",
            f"${agent['credential_env']}" if agent["credential_env"] else "— (external)",
        ),
        ("liveness", agent["liveness"]),
        ("heartbeat", ago(agent["seconds_since_heartbeat"])),
        ("gauge", gauge_text(agent["gauge"])),
        ("flush line", f"{agent['flush_line']} of {agent['context_window']} tokens"),
        ("current task", f"#{agent['current_task']}" if agent["current_task"] else "-"),
        ("note", agent["note"] or "-"),
        ("capabilities", ", ".join(agent["capabilities"]) or "-"),
        ("channels", ", ".join(agent["channels"]) or "-"),
        ("supervisor", agent["supervisor"]),
        ("cooldown", f"until {agent['cooldown_until']}" if agent["cooldown_until"] else "-"),
        ("memory flush", agent["last_flush_at"] or "never"),
        ("compactions", f"{agent['compactions']} (last {agent['last_compaction_at'] or '-'})"),
    ]
    for key, value in rows:
        click.echo(f"{key:>13}  {value}")
    for warning in agent.get("warnings", []):
        click.echo(f"{'warning':>13}  {warning}")


@agents.command("nudge")
@click.argument("name")
@click.option("--reason", default="", help="Why; shown in the event log.")
@json_option
@pass_client
def nudge(client: Client, name: str, reason: str, as_json: bool) -> None:
    """Wake agent NAME now instead of at its next heartbeat (its runner must be running)."""
    result = client.post(paths.nudge(name), {"reason": reason})
    if as_json:
        emit_json(result)
    else:
        click.echo(f"nudged {name} (event {result['seq']})")


@agents.command("token")
@click.argument("name")
@click.option("--label", default="", help="A note to tell this token from others.")
@json_option
@pass_client
def issue_token(client: Client, name: str, label: str, as_json: bool) -> None:
    """Issue a token for agent NAME; it is printed once and only its hash is kept."""
    result = client.post(paths.agent_tokens(name), {"label": label})
    if as_json:
        emit_json(result)
    else:
        click.echo(result["token"])
