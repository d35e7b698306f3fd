"""``mcos legal templates|draft|check``: legal drafts rendered and checked by the control plane.

``draft`` names the parties by their registry keys (``--party client=velocity-fibre``) and fills
the template's variable fields (``--field monthly_fee=75000``); names, registration numbers,
addresses and signatories come from the entity registry only. A draft that disagrees with the
registry is refused: each reason on its own line and a non-zero exit.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mcos.cli._context import Client, emit_json, fail, json_option, pass_client
from mcos.client import ApiError
from mcos.contract import paths

if TYPE_CHECKING:
    from mcos.client import Client as McosClient

REFUSED = "draft_refused"
_LISTED = re.compile(r"so it was not attached: \(1\) (.*)\. Party facts come", re.S)


def refusal_reasons(message: str) -> list[str]:
    """Each disagreement of a ``draft_refused`` message (``(1) …; (2) …``), or the message."""
    found = _LISTED.search(message)
    if found is None:
        return [message]
    rest, reasons, number = found.group(1), [], 2
    while (at := rest.find(f"; ({number}) ")) >= 0:
        reasons.append(rest[:at])
        rest = rest[at + len(f"; ({number}) ") :]
        number += 1
    return [*reasons, rest]


def pairs(values: tuple[str, ...], option: str, example: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` options split at the first ``=``; anything else fails naming ``option``.
    ``example`` is a good one (``client=velocity-fibre``)."""
    found = []
    shape = "ROLE=KEY" if option == "--party" else "NAME=VALUE"
    for value in values:
        name, equals, given = value.partition("=")
        if not equals or not name.strip() or not given.strip():
            fail(f"{option} {value!r} is not {shape} (e.g. {option} {example})", field=option)
        found.append((name.strip(), given.strip()))
    return found


def _parties(values: tuple[str, ...]) -> dict[str, str]:
    parties: dict[str, str] = {}
    for role, key in pairs(values, "--party", "client=velocity-fibre"):
        if role in parties:
            fail(f"--party {role} is given twice", field="--party")
        parties[role] = key
    return parties


def _template(client: Client, key: str) -> dict[str, Any]:
    listed: list[dict[str, Any]] = client.get(paths.LEGAL_TEMPLATES)["templates"]
    for template in listed:
        if template["key"] == key:
            return template
    fail(
        f"no legal template {key!r}; the templates are: {', '.join(t['key'] for t in listed)}",
        field="TEMPLATE",
    )


def _fields(template: dict[str, Any], values: tuple[str, ...]) -> dict[str, Any]:
    """The ``--field`` values typed as the template wants them: a whole number for an
    ``integer``, a list for ``lines`` (repeat ``--field`` for each line), text otherwise."""
    specs = {f["name"]: f for f in template["fields"]}
    fields: dict[str, Any] = {}
    for name, value in pairs(values, "--field", "effective_date=2026-03-01"):
        spec = specs.get(name)
        if spec is None:
            fail(
                f"template {template['key']!r} has no field {name!r}; its fields are "
                + ", ".join(specs),
                field="--field",
            )
        if spec["type"] == "lines":
            fields.setdefault(name, []).append(value)
            continue
        if name in fields:
            fail(f"--field {name} is given twice (only lines fields repeat)", field="--field")
        if spec["type"] == "integer":
            if not value.isdigit():
                fail(f"--field {name} must be a whole number (got {value!r})", field="--field")
            fields[name] = int(value)
        else:
            fields[name] = value
    return fields


@click.group()
def legal() -> None:
    """Legal drafts (.docx) from templates and the entity registry, checked against it."""


@legal.command("templates")
@json_option
@pass_client
def list_templates(client: Client, as_json: bool) -> None:
    """Each template: its parties (roles) and its fields, required or with their defaults."""
    listed = client.get(paths.LEGAL_TEMPLATES)["templates"]
    if as_json:
        emit_json(listed)
        return
    for number, t in enumerate(listed):
        click.echo(("\n" if number else "") + f"{t['key']}: {t['title']} ({t['style']})")
        click.echo(f"  {t['description']}")
        for p in t["parties"]:
            signs = ", signs" if p["signs"] else ""
            click.echo(f"  --party {p['role']}=KEY  the {p['term']} ({p['kind']}{signs})")
        for f in t["fields"]:
            if f["required"]:
                need = "required"
            elif "default" in f:
                need = f"default {f['default']!r}"
            else:
                need = "optional"
            choices = f"; one of: {' | '.join(f['choices'])}" if f.get("choices") else ""
            if f["type"] == "lines":
                choices = "; repeat --field for each line"
            click.echo(f"  --field {f['name']}=…  {f['type']}, {need}{choices}: {f['description']}")


@legal.command("draft")
@click.argument("task_id", metavar="TASK", type=click.IntRange(min=1))
@click.argument("template_key", metavar="TEMPLATE")
@click.option("--party", "party", multiple=True, metavar="ROLE=KEY", help="A party (repeat).")
@click.option("--field", "field", multiple=True, metavar="NAME=VALUE", help="A field (repeat).")
@click.option("--note", default="", help="What changed in this version.")
@json_option
@pass_client
def draft(
    client: Client,
    task_id: int,
    template_key: str,
    party: tuple[str, ...],
    field: tuple[str, ...],
    note: str,
    as_json: bool,
) -> None:
    """Render TEMPLATE between the registry's parties, check it, attach it to TASK and send the
    task to review. Party facts come from the registry only (`mcos registry ls`)."""
    parties = _parties(party)
    if not parties:
        fail("give the parties: --party ROLE=REGISTRY_KEY for each role", field="--party")
    template = _template(client, template_key)
    body = {
        "template": template_key,
        "parties": parties,
        "fields": _fields(template, field),
        "note": note,
    }
    path = paths.legal_drafts(task_id)

    def attach(api: McosClient) -> Any:
        try:
            return api.request("POST", path, body)
        except ApiError as exc:
            if exc.status == 422 and exc.code == REFUSED:
                return exc  # said below, with each disagreement on a line of its own
            raise

    done = client.call(attach, path)
    if isinstance(done, ApiError):
        reasons = refusal_reasons(done.message)
        if as_json:
            emit_json((done.answer or {}) | {"reasons": reasons})
        else:
            click.echo(
                "error: the draft was refused (nothing attached): it disagrees with the entity "
                "registry:",
                err=True,
            )
            for reason in reasons:
                click.echo(f"  - {reason}", err=True)
        sys.exit(1)
    if as_json:
        emit_json(done)
        return
    artifact = done["artifact"]
    click.echo(
        f"attached {artifact['name']} v{artifact['version']} (artifact #{artifact['id']}) "
        f"to task #{task_id}; the task is in {done['status']}"
    )
    for role, p in done["parties"].items():
        number = f" ({p['registration_number']})" if p["registration_number"] else ""
        click.echo(f"  {role}: {p['name']}{number} [{p['key']}]")


@legal.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--template", "template_key", required=True, help="The template it is a draft of.")
@click.option("--party", "party", multiple=True, metavar="ROLE=KEY", help="A party (repeat).")
@json_option
@pass_client
def check(
    client: Client, file: Path, template_key: str, party: tuple[str, ...], as_json: bool
) -> None:
    """Check a .docx made elsewhere against the registry as a draft of TEMPLATE between the
    parties; exits non-zero when it disagrees, naming each disagreement."""
    parties = _parties(party)
    if not parties:
        fail("give the parties: --party ROLE=REGISTRY_KEY for each role", field="--party")
    try:
        content = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", field="FILE")
    if not content:
        fail(f"{file} is empty; give the .docx to check", field="FILE")
    body = {
        "template": template_key,
        "parties": parties,
        "content_base64": base64.b64encode(content).decode("ascii"),
    }
    found = client.post(paths.LEGAL_CHECK, body)
    if as_json:
        emit_json(found)
    elif found["agrees"]:
        click.echo(f"{file} agrees with the entity registry as a draft of {template_key}")
    else:
        click.echo(f"{file} disagrees with the entity registry:")
        for d in found["disagreements"]:
            click.echo(f"  - {d['message']}")
    if not found["agrees"]:
        sys.exit(1)
