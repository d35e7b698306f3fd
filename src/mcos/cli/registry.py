"""``mcos registry ls|show``: the entity registry as the control plane serves it (read-only;
edit ``registry.toml`` beside the fleet file and restart ``mcos serve``)."""

from __future__ import annotations

from typing import Any

import click

from mcos.cli._context import Client, emit_json, fail, json_option, pass_client, table
from mcos.contract import paths


@click.group()
def registry() -> None:
    """The entity registry: companies and people that documents name (registry.toml)."""


@registry.command("ls")
@click.argument("query", required=False)
@json_option
@pass_client
def list_entities(client: Client, query: str | None, as_json: bool) -> None:
    """Every company and person, or those QUERY names (a key, a name or part of one)."""
    found = client.get(paths.REGISTRY, q=query)
    if as_json:
        emit_json(found)
        return
    table(
        [
            [c["key"], c["legal_name"], c["registration_number"], c.get("vat_number") or "-"]
            for c in found["companies"]
        ],
        ["COMPANY", "LEGAL NAME", "REGISTRATION", "VAT"],
    )
    click.echo()
    table(
        [
            [
                p["key"],
                p["full_name"],
                ", ".join(r["company"] for r in p["companies"]) or "-",
            ]
            for p in found["people"]
        ],
        ["PERSON", "FULL NAME", "COMPANIES"],
    )


def _show_company(c: dict[str, Any]) -> None:
    for label, value in (
        ("legal name", c["legal_name"]),
        ("trading as", c.get("trading_as")),
        ("kind", f"{c['kind']} ({c['country']})"),
        ("registration", c["registration_number"]),
        ("VAT", c.get("vat_number")),
        ("registered address", c["registered_address"]),
        ("domicilium", c["domicilium_address"]),
        ("postal address", c.get("postal_address")),
        ("email", c.get("email")),
        ("bank reference", c.get("bank_ref")),
        ("directors", ", ".join(f"{d['full_name']} ({d['person']})" for d in c["directors"])),
        (
            "signatories",
            "; ".join(f"{s['full_name']} as {s['capacity']}" for s in c["signatories"]),
        ),
    ):
        if value:
            click.echo(f"{label + ':':20}{value}")


def _show_person(p: dict[str, Any]) -> None:
    for label, value in (
        ("full name", p["full_name"]),
        ("ID number", p.get("id_number")),
        ("passport", p.get("passport")),
        ("title", p.get("capacity")),
        ("email", p.get("email")),
        ("address", p.get("address")),
    ):
        if value:
            click.echo(f"{label + ':':20}{value}")
    for role in p["companies"]:
        what = (["director"] if role["director"] else []) + (
            [f"signs as {role['signs_as']}"] if role["signs_as"] else []
        )
        click.echo(f"{'company:':20}{role['legal_name']} ({', '.join(what)})")


@registry.command("show")
@click.argument("key")
@json_option
@pass_client
def show_entity(client: Client, key: str, as_json: bool) -> None:
    """One company or person by KEY, with directors and signatories."""
    found = client.get(paths.REGISTRY, q=key)
    companies = [c for c in found["companies"] if c["key"] == key]
    people = [p for p in found["people"] if p["key"] == key]
    if not companies and not people:
        fail(f"no company or person with key {key!r} in the registry (try `mcos registry ls`)")
    entity = companies[0] if companies else people[0]
    if as_json:
        emit_json(entity)
        return
    click.echo(f"{'company' if companies else 'person'} {key}")
    if companies:
        _show_company(entity)
    else:
        _show_person(entity)
