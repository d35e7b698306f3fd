"""``mcos db upgrade`` and ``mcos db current``: the fleet's database schema, worked on directly
(like ``mcos serve``), not through the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from mcos.cli._context import emit_json, fail, find_fleet_dir, json_option
from mcos.errors import McosError
from mcos.fleet.loader import FLEET_FILENAME
from mcos.settings import Settings
from mcos.storage.database import Database

fleet_option = click.option(
    "--fleet", "fleet_path", envvar="MCOS_FLEET", help="Fleet file or its folder."
)


def fleet_database(fleet_path: str | None) -> Database:
    """The database (and artifact store) ``mcos serve`` would use for this fleet, unmigrated."""
    from mcos.fleet_database import open_database

    folder = find_fleet_dir(fleet_path)
    if folder is None:
        fail("no fleet found: pass --fleet DIR, set MCOS_FLEET, or run `mcos init DIR`")
    try:
        _, db = open_database(Settings(fleet=folder / FLEET_FILENAME), migrate=False)
    except McosError as exc:
        fail(exc.message.splitlines()[0], field=exc.field)
    return db


def on_database(fleet_path: str | None, work: Callable[[Database], Any]) -> Any:
    """``work(db)`` on the fleet's database; an :class:`McosError` ends the command."""
    from sqlalchemy.exc import SQLAlchemyError

    db = fleet_database(fleet_path)
    try:
        return work(db)
    except McosError as exc:
        fail(exc.message, field=exc.field)
    except SQLAlchemyError as exc:  # unreachable server, missing database, no permission
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"database {db.url.render_as_string(hide_password=True)}: {reason}")
    finally:
        db.dispose()


@click.group()
def db() -> None:
    """The fleet's database: schema revision and upgrades, event archiving."""


@db.command()
@fleet_option
@json_option
def upgrade(fleet_path: str | None, as_json: bool) -> None:
    """Bring the schema to the newest revision (safe while other replicas start or upgrade)."""
    done = on_database(fleet_path, lambda database: database.migrate())
    if as_json:
        emit_json({"before": done.before, "revision": done.after, "at_head": True})
    elif done.before == done.after:
        click.echo(f"already at the newest revision {done.after}")
    else:
        click.echo(f"upgraded from {done.before or 'an empty database'} to {done.after}")


@db.command()
@fleet_option
@json_option
def current(fleet_path: str | None, as_json: bool) -> None:
    """Print the schema's revision and whether it is the newest this mcos knows."""
    from mcos.storage.migrations import current_revision, head_revision

    revision = on_database(fleet_path, lambda database: current_revision(database.write_engine))
    head = head_revision()
    if as_json:
        emit_json({"revision": revision, "head": head, "at_head": revision == head})
    elif revision == head:
        click.echo(f"{revision} (head)")
    elif revision is None:
        click.echo(f"empty database (no schema); head is {head}: run `mcos db upgrade`")
    else:
        click.echo(f"{revision}; head is {head}: run `mcos db upgrade`")


@db.command()
@fleet_option
@click.option(
    "--before",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Move events older than this UTC date or time (default: now minus "
    "MCOS_EVENT_RETENTION_DAYS).",
)
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive file to write (gzip JSON lines, one event a line); must not exist.",
)
@json_option
def archive(fleet_path: str | None, before: datetime | None, to: Path, as_json: bool) -> None:
    """Move old heartbeats, usage records and other high-volume events out of the event log
    into a file; histories the dashboard shows stay (see docs/operations.md)."""
    from mcos.services.event_archive import archive_events

    if before is None:
        days = Settings().event_retention_days
        if days is None:
            fail("pass --before DATE, or set MCOS_EVENT_RETENTION_DAYS", field="--before")
        when = datetime.now(UTC) - timedelta(days=days)
    else:
        when = before.replace(tzinfo=UTC)
    done = on_database(
        fleet_path, lambda database: archive_events(database, when, to, actor="system")
    )
    if as_json:
        emit_json(
            {
                "before": done.before.isoformat(),
                "through_seq": done.through_seq,
                "moved": done.moved,
                "path": str(done.path),
            }
        )
        return
    click.echo(
        f"Moved {done.moved} events older than {done.before.isoformat()} to {done.path} "
        f"(a stream resumed before seq {done.through_seq} is told to resync)."
    )
