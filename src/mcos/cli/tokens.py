"""``mcos tokens ls|issue|revoke|rotate``: who holds a token, for how long, and taking it back."""

from __future__ import annotations

from typing import Any

import click

from mcos.cli._context import Client, emit_json, fail, json_option, pass_client, table
from mcos.contract import paths


def _expiry(token: dict[str, Any]) -> str:
    if token["status"] != "active":
        when = token["revoked_at"] or token["expires_at"] or ""
        return f"{token['status']} {when[:16].replace('T', ' ')}".strip()
    return (token["expires_at"] or "never")[:16].replace("T", " ")


def _token_id(client: Client, given: str) -> int:
    """A token's id, from ``12``, ``#12`` or its prefix as `ls` shows it (``mcos_r_AbCd``)."""
    given = given.lstrip("#")
    if given.isdigit():
        return int(given)
    matches = [
        t["id"]
        for t in client.get(paths.TOKENS, all="true")["tokens"]
        if t["prefix"].startswith(given) or given.startswith(t["prefix"])
    ]
    if len(matches) != 1:
        fail(
            f"{'no' if not matches else 'more than one'} token matches {given!r}; "
            "give its id from `mcos tokens ls`",
            field="TOKEN",
        )
    token_id: int = matches[0]
    return token_id


@click.group()
def tokens() -> None:
    """Bearer tokens: operators', runners' (one machine each) and agents'."""


@tokens.command("ls")
@click.option("--all", "everything", is_flag=True, help="Also revoked and expired tokens.")
@json_option
@pass_client
def list_tokens(client: Client, everything: bool, as_json: bool) -> None:
    """Tokens by kind and scope, with their expiry; never the tokens themselves."""
    items = client.get(paths.TOKENS, all="true" if everything else None)["tokens"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [f"#{t['id']}", t["kind"], t["scope"], t["label"], t["prefix"], _expiry(t)]
            for t in items
        ],
        ["ID", "KIND", "SCOPE", "LABEL", "PREFIX", "EXPIRES"],
    )


@tokens.command("issue")
@click.option(
    "--operator",
    "operator",
    metavar="NAME",
    help="Another token for operator NAME (`mcos operators add` makes a new person).",
)
@click.option("--runner", "machine", metavar="MACHINE", help="A runner token for MACHINE's agents.")
@click.option("--agent", "agent", metavar="AGENT", help="A token that acts as AGENT.")
@click.option("--label", default="", help="Who or what holds it (default: the name).")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), help="Lifetime in days.")
@click.option("--no-expiry", is_flag=True, help="Valid until revoked.")
@json_option
@pass_client
def issue(
    client: Client,
    operator: str | None,
    machine: str | None,
    agent: str | None,
    label: str,
    expires_in_days: int | None,
    no_expiry: bool,
    as_json: bool,
) -> None:
    """Issue a token; it is printed once and only its hash is kept.

    Default lifetimes: 90 days for runner and agent tokens, none for operators.
    """
    chosen = [k for k, v in (("operator", operator), ("runner", machine), ("agent", agent)) if v]
    if len(chosen) != 1:
        fail("give exactly one of --operator NAME, --runner MACHINE or --agent AGENT")
    if no_expiry and expires_in_days:
        fail("give --expires-in-days or --no-expiry, not both", field="--no-expiry")
    body: dict[str, Any] = {"kind": chosen[0], "label": label or operator or ""}
    if machine:
        body["machine"] = machine
    if agent:
        body["agent"] = agent
    if no_expiry:
        body["expires_in_days"] = None
    elif expires_in_days:
        body["expires_in_days"] = expires_in_days
    result = client.post(paths.TOKENS, body)
    if as_json:
        emit_json(result)
        return
    click.echo(result["token"])
    click.echo(
        f"#{result['id']} {result['kind']} token for {result['scope']}, expires "
        f"{result['expires_at'] or 'never'}; shown once",
        err=True,
    )


@tokens.command("revoke")
@click.argument("token")
@json_option
@pass_client
def revoke(client: Client, token: str, as_json: bool) -> None:
    """Revoke TOKEN (its id or prefix): its very next request is refused."""
    result = client.post(paths.revoke_token(_token_id(client, token)), {})
    if as_json:
        emit_json(result)
    else:
        click.echo(f"revoked #{result['id']} ({result['kind']}, {result['scope']})")


@tokens.command("rotate")
@click.argument("token")
@click.option(
    "--grace-minutes",
    type=click.IntRange(0, 7 * 24 * 60),
    default=0,
    help="Keep the old token working this long, to put the new one in place (default: 0).",
)
@json_option
@pass_client
def rotate(client: Client, token: str, grace_minutes: int, as_json: bool) -> None:
    """Replace TOKEN with a new one of the same scope and print it once."""
    old = _token_id(client, token)
    result = client.post(paths.rotate_token(old), {"grace_minutes": grace_minutes})
    if as_json:
        emit_json(result)
        return
    click.echo(result["token"])
    ends = "now" if not grace_minutes else f"in {grace_minutes} min"
    click.echo(f"#{result['id']} replaces #{old}, which stops {ends}; shown once", err=True)
