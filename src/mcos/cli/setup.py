"""``mcos init``, ``mcos serve`` and ``mcos fleet check``: the commands that need no server."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mcos.cli._context import (
    TOKEN_FILE,
    counted,
    emit_json,
    fail,
    find_fleet_dir,
    log_format_option,
    remember_fleet,
    tune_garbage_collector,
)
from mcos.contract.vocab import OPERATOR_NAME_PATTERN
from mcos.errors import McosError
from mcos.fleet.loader import FLEET_FILENAME, FleetFileError, load_fleet, template_text
from mcos.fleet.permissions import tighten
from mcos.fleet.registry import (
    REGISTRY_FILENAME,
    Registry,
    RegistryFileError,
    load_registry,
    registry_path,
    registry_template_text,
)
from mcos.fleet.schema import Fleet
from mcos.fleet.soul_templates import SOULS_DIR, write_fleet_templates
from mcos.fleet.warnings import fleet_warnings, mail_warnings, notify_warnings
from mcos.settings import Settings

if TYPE_CHECKING:
    from mcos.logs import LogFormat

FIRST_OPERATOR = "operator"
"""The first owner's name unless ``mcos init --operator NAME`` gives one."""


def write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read, whatever mode an older copy had."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--database-url", help="Use this database instead of SQLite (sets MCOS_DATABASE_URL)."
)
@click.option(
    "--minimal",
    is_flag=True,
    help="One agent on one machine with one model, instead of the seed's 23-agent fleet.",
)
@click.option(
    "--operator",
    "first_operator",
    default=FIRST_OPERATOR,
    show_default=True,
    metavar="NAME",
    help="Your name as the log will show it (operator:NAME); you become the fleet's owner.",
)
def init(directory: Path, database_url: str | None, minimal: bool, first_operator: str) -> None:
    """Write a working fleet (the seed's 23 agents, or one with --minimal) to DIRECTORY and
    issue the operator token of its first owner (you)."""
    fleet_file = directory / FLEET_FILENAME
    if fleet_file.exists():
        fail(f"{fleet_file} already exists; edit it, or choose another directory")
    had_registry = (directory / REGISTRY_FILENAME).exists()
    if not re.fullmatch(OPERATOR_NAME_PATTERN, first_operator):
        fail(
            f"operator name {first_operator!r} is not valid: lowercase letters, digits, '.', '_' "
            "or '-', starting with a letter",
            field="--operator",
        )
    fleet, token, token_path = init_fleet(
        directory, template_text(minimal=minimal), database_url, operator=first_operator
    )
    click.echo(
        f"Wrote {fleet_file} ({counted(len(fleet.agents), 'agent')} on "
        f"{counted(len(fleet.machines), 'machine')})."
    )
    if not had_registry:
        click.echo(
            f"Wrote {directory / REGISTRY_FILENAME} (a sample entity registry: fictional "
            "companies and people; replace them with yours)."
        )
    souls = directory / SOULS_DIR
    click.echo(
        f"Wrote {souls}/ (the role templates each agent's SOUL.md starts from; edit them, or "
        f"copy one to {SOULS_DIR}/AGENT.md for one agent: see {souls / 'README.md'})."
    )
    click.echo(
        f"Operator token of {first_operator} (owner; also in {token_path}, mode 600; shown once "
        f"here):\n  {token}"
    )
    click.echo(f"Next: mcos serve --fleet {directory}")
    if minimal:
        agent = fleet.agents[0]
        click.echo(
            f"Then, in a second shell: export {agent.credential}=<your {agent.provider} API key> "
            f"and run its agent with: mcos --fleet {directory} run"
        )


def init_fleet(
    directory: Path,
    fleet_text: str,
    database_url: str | None = None,
    *,
    operator: str = FIRST_OPERATOR,
) -> tuple[Fleet, str, Path]:
    """Write ``fleet_text`` as DIRECTORY's fleet file, set up its database and make ``operator``
    its first owner: the fleet, the owner's token and where the token is kept."""
    from mcos.fleet_database import open_database
    from mcos.services.agents import sync_fleet
    from mcos.services.operators import add_operator
    from mcos.storage.writer import write_once

    fleet_file = directory / FLEET_FILENAME
    directory.mkdir(parents=True, exist_ok=True)
    fleet_file.write_text(fleet_text, encoding="utf-8")
    registry_file = directory / REGISTRY_FILENAME
    wrote_registry = not registry_file.exists()
    if wrote_registry:
        registry_file.write_text(registry_template_text(), encoding="utf-8")
    settings = Settings(fleet=fleet_file)
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url})
    try:
        fleet, db = open_database(settings)
        write_once(db, lambda ctx: sync_fleet(ctx, fleet))
        token, _ = write_once(db, lambda ctx: add_operator(ctx, operator, "owner"))
        db.dispose()
    except Exception as exc:
        # Leave nothing half-made behind, so running `mcos init` again just works.
        fleet_file.unlink(missing_ok=True)
        if wrote_registry:
            registry_file.unlink(missing_ok=True)
        message = exc.message if isinstance(exc, McosError) else f"{type(exc).__name__}: {exc}"
        fail(f"could not set up the database: {message}")
    token_path = directory / TOKEN_FILE
    token_path.parent.mkdir(exist_ok=True)
    write_secret(token_path, token + "\n")
    write_fleet_templates(directory)
    remember_fleet(directory)
    return fleet, token, token_path


@click.command()
@click.option("--fleet", "fleet_path", envvar="MCOS_FLEET", help="Fleet file or its folder.")
@click.option("--host", help="Address to listen on (default: from control_plane.url).")
@click.option("--port", type=int, help="Port to listen on (default: from control_plane.url).")
@click.option(
    "--show-token",
    is_flag=True,
    help="Print the operator token from the fleet's .mcos/operator.token (for a local trial; "
    "keep it out of service logs).",
)
@log_format_option
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Speak TLS with this PEM certificate chain (MCOS_TLS_CERT); with --tls-key.",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The certificate's PEM private key (MCOS_TLS_KEY).",
)
@click.option(
    "--behind-proxy",
    is_flag=True,
    help="A reverse proxy in front terminates TLS (MCOS_BEHIND_PROXY): allows plain HTTP on a "
    "non-loopback address; MCOS_PUBLIC_URL must then be the proxy's https URL.",
)
def serve(
    fleet_path: str | None,
    host: str | None,
    port: int | None,
    show_token: bool,
    log_format: LogFormat | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    behind_proxy: bool,
) -> None:
    """Run the control plane: the API and the live stream.

    Plain HTTP is for loopback: on any other address give --tls-cert and --tls-key, or
    --behind-proxy when a proxy in front (Caddy, nginx) terminates TLS.
    """
    from httpx2 import URL

    folder = find_fleet_dir(fleet_path)
    if folder is None:
        fail("no fleet found: pass --fleet DIR, set MCOS_FLEET, or run `mcos init DIR`")
    settings = Settings(fleet=folder / FLEET_FILENAME)
    try:
        fleet = load_fleet(settings.fleet)
    except FleetFileError as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(2) from None
    for path in tighten(folder):
        click.echo(f"made {path} private to its owner (it was readable by others)", err=True)
    url = URL(fleet.control_plane.url)
    host = host or settings.host or url.host
    port = port if port is not None else settings.port if settings.port is not None else url.port
    from mcos.api.server import Server, check_transport, server_config

    settings = settings.model_copy(
        update={
            "host": host,
            "port": port or 8750,
            "log_format": log_format or settings.log_format,
            "tls_cert": tls_cert or settings.tls_cert,
            "tls_key": tls_key or settings.tls_key,
            "behind_proxy": behind_proxy or settings.behind_proxy,
        }
    )
    try:
        check_transport(settings, host)
        # Only now the application (two seconds of imports): a refused address exits at once.
        from mcos.api.app import create_app

        app = create_app(settings)
    except McosError as exc:
        fail(exc.message, field=exc.field)
    scheme = "https" if settings.tls_cert is not None else "http"
    shown = f"{scheme}://{host}:{port}"
    agents = counted(len(fleet.agents), "agent")
    click.echo(f"Mission Control OS: fleet {fleet.fleet.name!r}, {agents}")
    click.echo(f"  dashboard  {shown}/   (sign in with an operator token)")
    click.echo(f"  API        {shown}/api/v1   (OpenAPI: {shown}/openapi.json)")
    token_path = folder / TOKEN_FILE
    if show_token and token_path.is_file():
        click.echo(f"  operator token  {token_path.read_text().strip()}   (from {token_path})")
    tune_garbage_collector()
    server = Server(server_config(app, settings, host, port or 8750), app.state.broker)
    server.run()
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run: the port was taken, or start-up failed


@click.group()
def fleet() -> None:
    """The fleet file."""


@fleet.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def check(path: Path | None, as_json: bool) -> None:
    """Validate a fleet file and its entity registry (registry.toml beside it), explaining
    each problem with the file, the key and the fix.

    Warnings (a choice that weakens a guarantee, such as exec on a machine without a sandbox,
    or a notify channel whose secret variable is not set here) are listed after "ok"; they do
    not fail the check.
    """
    if path is None:
        folder = find_fleet_dir(None)
        if folder is None:
            fail("no fleet.toml here or above; give its path")
        path = folder / FLEET_FILENAME
    failed: list[FleetFileError] = []
    loaded: Fleet | None = None
    entities: Registry | None = None
    try:
        loaded = load_fleet(path)
    except FleetFileError as exc:
        failed.append(exc)
    try:
        entities = load_registry(path)
    except RegistryFileError as exc:
        failed.append(exc)
    if failed:
        if as_json:
            emit_json(
                {
                    "ok": False,
                    "file": str(failed[0].path),
                    "problems": [
                        {
                            "file": str(error.path),
                            "key": p.key,
                            "line": p.line,
                            "message": p.message,
                            "fix": p.fix,
                        }
                        for error in failed
                        for p in error.problems
                    ],
                }
            )
        else:
            for error in failed:
                click.echo(error.message, err=True)
        raise SystemExit(1) from None
    assert loaded is not None and entities is not None
    warnings = (
        fleet_warnings(loaded)
        + notify_warnings(loaded, os.environ)
        + mail_warnings(loaded, os.environ)
    )
    if as_json:
        emit_json(
            {
                "ok": True,
                "file": str(path),
                "agents": len(loaded.agents),
                "machines": len(loaded.machines),
                "warnings": [{"agent": w.agent, "message": w.message} for w in warnings],
                "external": [a.name for a in loaded.agents if a.external],
                # None: no registry.toml beside the fleet file (an empty registry).
                "registry": {
                    "file": str(registry_path(path)),
                    "companies": len(entities.companies),
                    "people": len(entities.people),
                }
                if registry_path(path).is_file()
                else None,
            }
        )
    else:
        click.echo(
            f"{path}: ok — {counted(len(loaded.agents), 'agent')} on "
            f"{counted(len(loaded.machines), 'machine')}, "
            f"{counted(len(loaded.channels), 'channel')}"
        )
        where = registry_path(path)
        if where.is_file():
            click.echo(
                f"{where}: ok — {len(entities.companies)} companies, {len(entities.people)} people"
            )
        external = [a.name for a in loaded.agents if a.external]
        if external:
            click.echo(
                f"  external ({len(external)}): {', '.join(external)} — run in another runtime "
                '(runtime = "external"): `mcos run` never starts them and they need no '
                "credential; each joins with its own agent token (`mcos tokens issue --agent "
                "NAME`) through the API, MCP or OTLP, and the fleet file's capabilities, budgets "
                "and guard hold for them as for any agent"
            )
        for warning in warnings:
            click.echo(f"  warning: {warning.agent}: {warning.message}")


@fleet.command("reference")
@click.option(
    "--write",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write it to this file instead of printing it (docs/fleet-reference.md).",
)
def reference(target: Path | None) -> None:
    """Every table and key the fleet file (and the entity registry) accepts, with its type,
    default and description, as Markdown: generated from the schema, so always this
    version's."""
    from mcos.fleet.reference import reference as generate

    text = generate()
    if target is None:
        click.echo(text, nl=False)
        return
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}", err=True)
