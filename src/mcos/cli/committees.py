"""``mcos committees open|ls|show|vote``: decisions put to named agents, and the operator."""

from __future__ import annotations

from typing import Any

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client, table
from mcos.contract import paths
from mcos.contract.vocab import HUMAN


def _line(c: dict[str, Any]) -> str:
    outcome = f" ({c['outcome']})" if c["outcome"] else ""
    return f"#{c['id']} {c['status']}{outcome}: {c['title']}"


@click.group()
def committees() -> None:
    """Decisions put to named agents (and you, as 'human'), settled by a quorum and a rule."""


@committees.command("open")
@click.option("--title", required=True)
@click.option("--question", required=True, help="What the members decide.")
@click.option("--member", "members", multiple=True, required=True, help="An agent; repeat it.")
@click.option("--human", is_flag=True, help="You vote too, as 'human'.")
@click.option("--quorum", type=int, help="Positions for or against needed (default: a majority).")
@click.option(
    "--rule",
    type=click.Choice(["majority", "unanimity", "veto"]),
    default="majority",
    show_default=True,
)
@click.option("--approval", "approval_id", type=int, help="A pending approval it gates.")
@json_option
@pass_client
def open_committee(
    client: Client,
    title: str,
    question: str,
    members: tuple[str, ...],
    human: bool,
    quorum: int | None,
    rule: str,
    approval_id: int | None,
    as_json: bool,
) -> None:
    """Open a committee; each member agent is sent a directive to give its position."""
    body: dict[str, Any] = {
        "title": title,
        "question": question,
        "members": list(members),
        "human": human,
        "rule": rule,
    }
    if quorum is not None:
        body["quorum"] = quorum
    if approval_id is not None:
        body["approval_id"] = approval_id
    committee = client.post(paths.COMMITTEES, body)
    if as_json:
        emit_json(committee)
    else:
        click.echo(f"{_line(committee)}; voters {', '.join(committee['voters'])}")


@committees.command("ls")
@click.option("--status", type=click.Choice(["open", "decided", "no_quorum"]))
@json_option
@pass_client
def list_committees(client: Client, status: str | None, as_json: bool) -> None:
    """Committees, newest first."""
    items = client.get(paths.COMMITTEES, status=status)["committees"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [
                f"#{c['id']}",
                c["status"],
                c["outcome"] or "-",
                c["rule"],
                f"{c['tally']['given']}/{c['tally']['voters']}",
                ", ".join(c["waiting_for"]) or "-",
                c["title"][:60],
            ]
            for c in items
        ],
        ["ID", "STATUS", "OUTCOME", "RULE", "GIVEN", "WAITING FOR", "TITLE"],
    )


@committees.command("show")
@click.argument("committee_id", type=int)
@json_option
@pass_client
def show(client: Client, committee_id: int, as_json: bool) -> None:
    """One committee: its minutes once decided, else the positions so far."""
    c = client.get(paths.committee(committee_id))
    if as_json:
        emit_json(c)
        return
    if c["minutes"]:
        click.echo(c["minutes"], nl=False)
        return
    click.echo(_line(c))
    click.echo(f"  {c['question']}")
    click.echo(f"  {c['explanation']}")
    for p in c["positions"]:
        who = f" ({p['given_by']})" if p["given_by"] and p["member"] == HUMAN else ""
        click.echo(f"  {p['member']}{who}: {p['position']}. {p['reasons']}")
    click.echo(f"  waiting for {', '.join(c['waiting_for']) or 'nobody'}")


@committees.command("vote")
@click.argument("committee_id", type=int)
@click.argument("position", type=click.Choice(["for", "against", "abstain", "veto"]))
@click.option("--reasons", required=True, help="Why: they go into the minutes.")
@json_option
@pass_client
def vote(client: Client, committee_id: int, position: str, reasons: str, as_json: bool) -> None:
    """Give your position (as 'human'); it is final."""
    c = client.post(
        paths.positions(committee_id),
        {"position": position, "reasons": reasons},
    )
    if as_json:
        emit_json(c)
    else:
        click.echo(f"{_line(c)}: {c['explanation']}")
