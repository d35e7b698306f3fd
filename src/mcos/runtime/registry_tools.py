"""``look_up_entity``: the facts of a company or person in the entity registry.

Offered to every agent with ``read``. It asks the control plane (``GET /api/v1/registry?q=``),
which holds the registry as the operator wrote it, so an agent reads the same facts the
dashboard shows, and ID numbers in full only with the ``personal_data`` capability. Documents
must take parties' names, numbers and signatories from here, never from memory or a mail.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import Field

from mcos.contract import paths
from mcos.runtime.tooling import Tool, ToolArgs, ToolContext, cap_output


class LookUpEntity(ToolArgs):
    query: str = Field(
        min_length=1,
        max_length=200,
        description="A company's or person's key (velocity-fibre), legal or trading name, or "
        "part of one.",
    )


def _company_text(c: dict[str, Any]) -> list[str]:
    trading = f" (trading as {c['trading_as']})" if c.get("trading_as") else ""
    lines = [
        f"Company {c['key']}: {c['legal_name']}{trading}",
        f"  kind: {c['kind']}, country {c['country']}",
        f"  registration number: {c['registration_number']}",
        f"  VAT number: {c.get('vat_number') or 'none registered'}",
        f"  registered address: {c['registered_address']}",
        f"  domicilium citandi et executandi: {c['domicilium_address']}",
    ]
    if c.get("postal_address"):
        lines.append(f"  postal address: {c['postal_address']}")
    if c.get("email"):
        lines.append(f"  email: {c['email']}")
    if c.get("bank_ref"):
        lines.append(
            f"  bank account reference: {c['bank_ref']} (the account's details are not in the "
            "registry; name the reference)"
        )
    directors = ", ".join(f"{d['full_name']} ({d['person']})" for d in c["directors"])
    lines.append(f"  directors: {directors or 'none listed'}")
    signing = "; ".join(
        f"{s['full_name']} ({s['person']}) as {s['capacity']}" for s in c["signatories"]
    )
    lines.append(f"  signs for it: {signing or 'nobody listed'}")
    return lines


def _person_text(p: dict[str, Any]) -> list[str]:
    lines = [f"Person {p['key']}: {p['full_name']}"]
    for field, label in (
        ("id_number", "ID number"),
        ("passport", "passport"),
        ("nationality", "nationality"),
        ("capacity", "title"),
        ("email", "email"),
        ("address", "address"),
    ):
        if p.get(field):
            lines.append(f"  {label}: {p[field]}")
    for role in p["companies"]:
        what = ["director"] if role["director"] else []
        if role["signs_as"]:
            what.append(f"signs as {role['signs_as']}")
        lines.append(f"  {role['legal_name']} ({role['company']}): {', '.join(what)}")
    return lines


async def _look_up_entity(ctx: ToolContext, args: LookUpEntity) -> str:
    found = await ctx.link.ask("GET", paths.REGISTRY, params={"q": args.query})
    companies, people = found["companies"], found["people"]
    if not companies and not people:
        everything = await ctx.link.ask("GET", paths.REGISTRY)
        keys = [c["key"] for c in everything["companies"]] + [
            p["key"] for p in everything["people"]
        ]
        known = ", ".join(keys) if keys else "none: the registry is empty"
        return (
            f"No company or person in the entity registry matches {args.query!r}. Known keys: "
            f"{known}. Do not invent a party's details: ask the operator to add it to "
            "registry.toml."
        )
    lines: list[str] = []
    for company in companies:
        lines += [*_company_text(company), ""]
    for person in people:
        lines += [*_person_text(person), ""]
    if found["personal_data"] != "full" and people:
        lines.append(
            "ID and passport numbers are masked: only agents with the personal_data "
            "capability read them in full."
        )
    lines.append("As JSON: " + orjson.dumps(found).decode())
    return cap_output("\n".join(lines))


REGISTRY_TOOLS: tuple[Tool, ...] = (
    Tool(
        "look_up_entity",
        "Look up a company or person in the entity registry (by key or name): legal name, "
        "registration and VAT numbers, addresses, directors, and who signs in what capacity. "
        "Take parties' facts for documents only from here.",
        LookUpEntity,
        _look_up_entity,
        "read",
    ),
)
