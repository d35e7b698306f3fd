"""``mcos souls``: the role templates an agent's ``SOUL.md`` starts from (files; no server)."""

from __future__ import annotations

from pathlib import Path

import click

from mcos.cli._context import emit_json, fail, find_fleet_dir
from mcos.fleet.loader import FLEET_FILENAME, FleetFileError, load_fleet
from mcos.fleet.schema import Fleet
from mcos.fleet.soul_templates import (
    SOULS_DIR,
    facts,
    find_template,
    packaged_template,
    render,
)


def _fleet(ctx: click.Context) -> tuple[Path, Fleet]:
    folder = find_fleet_dir(ctx.find_root().params.get("fleet_dir"))
    if folder is None:
        fail("no fleet found: pass --fleet DIR, set MCOS_FLEET, or run `mcos init DIR`")
    try:
        return folder, load_fleet(folder / FLEET_FILENAME)
    except FleetFileError as exc:
        fail(exc.message)


@click.group()
def souls() -> None:
    """Role templates: who each agent is when its SOUL.md is first written."""


@souls.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def list_souls(ctx: click.Context, as_json: bool) -> None:
    """Which template each agent's first SOUL.md comes from (FLEET/souls/AGENT.md, then
    FLEET/souls/ROLE.md, then the packaged role template, else a generic text)."""
    folder, fleet = _fleet(ctx)
    rows = []
    for agent in fleet.agents:
        template = find_template(agent, folder / SOULS_DIR)
        rows.append(
            {
                "agent": agent.name,
                "role": agent.role,
                "template": template.source if template else "generic",
            }
        )
    if as_json:
        emit_json({"souls": rows})
        return
    for row in rows:
        click.echo(f"{row['agent']:<12} {row['role']:<20} {row['template']}")


@souls.command("copy")
@click.argument("role")
@click.argument("agent")
@click.pass_context
def copy_soul(ctx: click.Context, role: str, agent: str) -> None:
    """Copy ROLE's template to FLEET/souls/AGENT.md, for AGENT's own edits.

    It is used the next time AGENT's SOUL.md is written: for a new agent, or after you remove
    workspaces/AGENT/SOUL.md (a SOUL.md already written is never replaced).
    """
    folder, fleet = _fleet(ctx)
    config = fleet.agent(agent)
    if config is None:
        fail(f"no agent named {agent!r} in the fleet file", field="agent")
    target = folder / SOULS_DIR / f"{agent}.md"
    if target.exists():
        fail(f"{target} already exists; edit it, or remove it first", field="agent")
    source = folder / SOULS_DIR / f"{role}.md"
    text = source.read_text(encoding="utf-8") if source.is_file() else packaged_template(role)
    if text is None:
        fail(f"no template for role {role!r}: no {source} and none shipped", field="role")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    first = render(text, facts(fleet, config)).strip().splitlines()[0]
    click.echo(f"Wrote {target} ({first!r}); edit it.")
    if (folder / "workspaces" / agent / "SOUL.md").exists():
        click.echo(
            f"note: workspaces/{agent}/SOUL.md exists and is kept; remove it to start {agent} "
            "from this file",
            err=True,
        )
