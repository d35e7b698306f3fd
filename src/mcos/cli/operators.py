"""``mcos operators ls|add|role|remove``: the people who run the fleet, each with a role."""

from __future__ import annotations

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client, table
from mcos.contract import paths
from mcos.contract.vocab import OPERATOR_ROLES

ROLE = click.Choice(OPERATOR_ROLES)


@click.group()
def operators() -> None:
    """People: owners (everything), approvers (decide, act on the work), viewers (look only)."""


@operators.command("ls")
@json_option
@pass_client
def list_operators(client: Client, as_json: bool) -> None:
    """Every operator with their role and how many live tokens they hold."""
    items = client.get(paths.OPERATORS)["operators"]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [o["name"], o["role"], o["tokens"], o["created_at"][:16].replace("T", " ")]
            for o in items
        ],
        ["NAME", "ROLE", "TOKENS", "ADDED"],
    )


@operators.command("add")
@click.argument("name")
@click.option("--role", type=ROLE, required=True, help="What they may do.")
@json_option
@pass_client
def add(client: Client, name: str, role: str, as_json: bool) -> None:
    """Add NAME with ROLE and print their token once (give it to them, and only them)."""
    result = client.post(paths.OPERATORS, {"name": name, "role": role})
    if as_json:
        emit_json(result)
        return
    click.echo(result["token"])
    click.echo(f"{result['name']} is an {result['role']}; their token is shown once", err=True)


@operators.command("role")
@click.argument("name")
@click.argument("role", type=ROLE)
@json_option
@pass_client
def change_role(client: Client, name: str, role: str, as_json: bool) -> None:
    """Give NAME another ROLE; it holds from their next request."""
    result = client.request("PATCH", paths.operator(name), json={"role": role})
    if as_json:
        emit_json(result)
    else:
        click.echo(f"{result['name']} is now {result['role']}")


@operators.command("remove")
@click.argument("name")
@json_option
@pass_client
def remove(client: Client, name: str, as_json: bool) -> None:
    """Remove NAME and revoke every token they hold (refused for the last owner)."""
    result = client.request("DELETE", paths.operator(name))
    if as_json:
        emit_json(result)
    else:
        click.echo(f"removed {result['name']} ({result['role']}); their tokens are revoked")
