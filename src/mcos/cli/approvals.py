"""``mcos approvals ls|show|approve|deny|restore`` and ``mcos actions check``."""

from __future__ import annotations

from typing import Any, Literal

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client, table
from mcos.contract import paths


def _left(seconds: int) -> str:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds else "-"


def _what(approval: dict[str, Any]) -> str:
    subject = approval["subject"]
    if approval["kind"] == "capability.restore":
        return (
            f"restore {subject['capability']} to {approval['agent']} for {subject['minutes']:g} min"
        )
    if approval["kind"] == "incident":
        return (
            f"confirm {subject.get('severity')} incident #{subject.get('incident')} from "
            f"{approval['agent']}: {subject.get('title')}"
        )
    if approval["kind"] == "action":
        what = subject.get("command") or subject.get("target") or subject.get("host") or ""
        paths = subject.get("paths") or []
        where = f" in {', '.join(paths[:3])}" if paths and not subject.get("command") else ""
        return f"{approval['agent']}: {subject.get('kind')} {what}{where}".strip()
    return f"{approval['agent']}: {approval['kind']}"


@click.group()
def approvals() -> None:
    """What waits for a decision: restorations of capabilities, actions that need approval."""


@approvals.command("ls")
@click.option(
    "--status", type=click.Choice(["pending", "approved", "denied", "expired", "applied"])
)
@json_option
@pass_client
def list_approvals(client: Client, status: str | None, as_json: bool) -> None:
    """Approvals, newest first."""
    items = client.get(paths.APPROVALS, status=status)["approvals"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [
                f"#{a['id']}",
                a["status"],
                _what(a),
                ", ".join(a["waiting_for"]) or "-",
                ", ".join(dict.fromkeys(d["decider"] for d in a["decisions"])) or "-",
                _left(a["seconds_left"]) if a["status"] == "pending" else "-",
                a["reason"][:60],
            ]
            for a in items
        ],
        ["ID", "STATUS", "WHAT", "WAITING FOR", "DECIDED BY", "LEFT", "REASON"],
    )


@approvals.command("show")
@click.argument("approval_id", type=int)
@json_option
@pass_client
def show(client: Client, approval_id: int, as_json: bool) -> None:
    """One approval: the frozen action, who must decide, the decisions, the outcome."""
    approval = client.get(paths.approval(approval_id))
    if as_json:
        emit_json(approval)
        return
    click.echo(f"#{approval['id']} {approval['status']}: {_what(approval)}")
    click.echo(f"  requested by {approval['requested_by']}: {approval['reason']}")
    click.echo(
        f"  needs {', '.join(approval['required'])}; waiting for "
        f"{', '.join(approval['waiting_for']) or 'nobody'}; expires {approval['expires_at']}"
    )
    for d in approval["decisions"]:
        click.echo(
            f"  {d['ts'][:19]} {d['party']} ({d['decider']}): {d['decision']} {d['comment']}"
        )
    if approval["outcome"]:
        click.echo(f"  outcome: {approval['outcome']}")


def _decide(
    client: Client,
    approval_id: int,
    verb: Literal["approve", "deny"],
    comment: str,
    as_json: bool,
) -> None:
    approval = client.post(paths.decide_approval(approval_id, verb), {"comment": comment})
    if as_json:
        emit_json(approval)
    else:
        click.echo(f"#{approval['id']} {approval['status']}: {_what(approval)}")


@approvals.command("approve")
@click.argument("approval_id", type=int)
@click.option("--comment", default="")
@json_option
@pass_client
def approve(client: Client, approval_id: int, comment: str, as_json: bool) -> None:
    """Approve, for the party you stand for (an operator stands for 'human')."""
    _decide(client, approval_id, "approve", comment, as_json)


@approvals.command("deny")
@click.argument("approval_id", type=int)
@click.option("--comment", required=True, help="Why: the requester reads it.")
@json_option
@pass_client
def deny(client: Client, approval_id: int, comment: str, as_json: bool) -> None:
    """Deny: one denial ends the approval."""
    _decide(client, approval_id, "deny", comment, as_json)


@approvals.command("restore")
@click.argument("agent")
@click.argument("capability")
@click.option("--minutes", type=float, default=60, show_default=True)
@click.option("--reason", required=True)
@json_option
@pass_client
def restore(
    client: Client, agent: str, capability: str, minutes: int, reason: str, as_json: bool
) -> None:
    """Ask to restore CAPABILITY to AGENT for a while (an operator then approves it)."""
    approval = client.post(
        paths.APPROVALS,
        {"agent": agent, "capability": capability, "minutes": minutes, "reason": reason},
    )
    if as_json:
        emit_json(approval)
    else:
        click.echo(f"#{approval['id']} {approval['status']}: {_what(approval)}")
