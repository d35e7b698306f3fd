"""``mcos import openclaw`` and ``mcos export openclaw``: one fleet file governs both runtimes.

Both work on files only (no control plane needed). See docs/openclaw.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from mcos.cli._context import emit_json, fail, find_fleet_dir
from mcos.cli.setup import write_secret
from mcos.fleet.loader import FLEET_FILENAME, FleetFileError, load_fleet
from mcos.fleet.schema import NAME_PATTERN


@click.group("import")
def import_() -> None:
    """Bring another runtime's agents into a fleet file."""


@click.group("export")
def export() -> None:
    """Write another runtime's config from the fleet file."""


@import_.command("openclaw")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(FLEET_FILENAME),
    show_default=True,
    help="The fleet file to write.",
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.option(
    "--machine", default="openclaw", show_default=True, help="The machine the gateway runs on."
)
@click.option("--name", "fleet_name", help="The fleet's name (default: Imported from OpenClaw).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_openclaw_command(
    path: Path, out: Path, force: bool, machine: str, fleet_name: str | None, as_json: bool
) -> None:
    """Turn an OpenClaw config (openclaw.json, JSON5) into a fleet file of external agents,
    and report what it could not map, with where it was."""
    from mcos.openclaw.importer import ImportFailed, import_openclaw
    from mcos.openclaw.reader import OpenClawConfigError, read_config

    if not re.fullmatch(NAME_PATTERN.strip("^$"), machine):
        fail(
            f"--machine {machine!r} is not a name: lowercase letters, digits and '-'",
            field="--machine",
        )
    if out.exists() and not force:
        fail(f"{out} exists; choose another --out, or pass --force to replace it", field="--out")
    try:
        data, text = read_config(path)
        result = import_openclaw(
            data, text, source=str(path), machine=machine, fleet_name=fleet_name
        )
    except OpenClawConfigError as exc:
        fail(exc.message, field="PATH")
    except ImportFailed as exc:
        fail(f"{path}: {exc}", field="PATH")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.fleet_text, encoding="utf-8")
    agents = [a.name for a in result.fleet.agents]
    if as_json:
        emit_json(
            {
                "file": str(out),
                "agents": agents,
                "machine": machine,
                "unmapped": [_note(n) for n in result.unmapped],
                "assumed": [_note(n) for n in result.assumed],
            }
        )
        return
    click.echo(
        f"Wrote {out}: {len(agents)} agents ({', '.join(agents)}) on machine {machine!r}, "
        'runtime = "external".'
    )
    if result.unmapped:
        click.echo(f"\nNot mapped ({len(result.unmapped)}), left in OpenClaw; nothing guessed:")
        for note in result.unmapped:
            click.echo("  " + note.render(str(path)).replace("\n", "\n  "))
    if result.assumed:
        click.echo(f"\nAssumed ({len(result.assumed)}); check each in {out}:")
        for note in result.assumed:
            click.echo("  " + note.render(str(path)).replace("\n", "\n  "))
    click.echo(
        f"\nNext: mcos fleet check {out}; then `mcos export openclaw --fleet {out}` for the "
        "tool policy and MCP entries to merge back into openclaw.json."
    )


def _note(note: Any) -> dict[str, Any]:
    return {"where": note.where, "line": note.line, "what": note.what, "why": note.why}


@export.command("openclaw")
@click.option("--fleet", "fleet_path", help="Fleet file or its folder (default: the current).")
@click.option("--url", help="Mission Control's URL as OpenClaw reaches it (default: the fleet's).")
@click.option(
    "--agent", "agent_names", multiple=True, help="Only this agent (default: every external one)."
)
@click.option(
    "--transport",
    type=click.Choice(["http", "stdio"]),
    default="http",
    show_default=True,
    help="http: /mcp with a bearer token; stdio: OpenClaw starts `mcos mcp --agent NAME`.",
)
@click.option(
    "--shape",
    type=click.Choice(["entries", "list"]),
    default="entries",
    show_default=True,
    help="agents.entries (OpenClaw 2026.8 and later) or agents.list (earlier).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@click.pass_context
def export_openclaw_command(
    ctx: click.Context,
    fleet_path: str | None,
    url: str | None,
    agent_names: tuple[str, ...],
    transport: str,
    shape: str,
    out: Path | None,
) -> None:
    """Write each OpenClaw agent's tool policy (from its capabilities) and the mcp.servers
    entry that points it at Mission Control, to merge into openclaw.json. Tokens are read
    from environment variables there, never written."""
    from mcos.openclaw.exporter import export_openclaw, openclaw_agents, render

    root = ctx.find_root().params
    given = fleet_path or root.get("fleet_dir")
    path = Path(given) if given and Path(given).is_file() else None
    if path is None:
        folder = find_fleet_dir(given)
        if folder is None:
            fail("no fleet found: pass --fleet FILE, or run `mcos import openclaw` first")
        path = folder / FLEET_FILENAME
    try:
        fleet = load_fleet(path)
        agents = openclaw_agents(fleet, agent_names)
    except FleetFileError as exc:
        fail(exc.message)
    except LookupError as exc:
        fail(str(exc.args[0]), field="--agent")
    if not agents:
        fail(
            f'{path} has no agent with runtime = "external"; name one with --agent',
            field="--agent",
        )
    base = (url or root.get("url") or fleet.control_plane.url).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", base):
        fail(f"--url {base!r} is not an http(s) URL", field="--url")
    config = export_openclaw(
        agents,
        url=base,
        transport="stdio" if transport == "stdio" else "http",
        shape="list" if shape == "list" else "entries",
    )
    text = render(config, source=str(path), agents=agents)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_secret(out, text)  # no secret in it, but it describes access: owner only
        click.echo(f"Wrote {out} ({len(agents)} agents).", err=True)
