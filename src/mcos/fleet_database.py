"""Opening a fleet's database as ``mcos serve`` does, without the web application: ``mcos init``
and ``mcos db`` need the database, not FastAPI, the dashboard and the MCP server (two seconds of
imports that every ``mcos init`` paid)."""

from __future__ import annotations

from pathlib import Path

from mcos.fleet.loader import load_fleet
from mcos.fleet.schema import Fleet
from mcos.settings import Settings
from mcos.storage.blobs import open_blob_store
from mcos.storage.database import Database, sqlite_url


def database_url(settings: Settings, fleet: Fleet, fleet_path: Path) -> str:
    if settings.database_url:
        return settings.database_url
    if fleet.control_plane.database_url:
        return fleet.control_plane.database_url
    folder = fleet_path if fleet_path.is_dir() else fleet_path.parent
    return sqlite_url(folder.resolve() / "mcos.db")


def open_database(settings: Settings, *, migrate: bool = True) -> tuple[Fleet, Database]:
    """Load the fleet file, open its database and (unless told not to: ``mcos backup``,
    ``restore``, ``db current``) migrate it to the newest schema."""
    fleet = load_fleet(settings.fleet)
    db = Database(
        database_url(settings, fleet, settings.fleet),
        sqlite_synchronous=settings.sqlite_synchronous,
    )
    if migrate:
        db.migrate()
    folder = settings.fleet if settings.fleet.is_dir() else settings.fleet.parent
    beside = Path(db.url.database or ".").parent if db.is_sqlite else folder
    db.blobs = open_blob_store(
        settings.artifacts_store,
        is_sqlite=db.is_sqlite,
        directory=settings.artifacts_dir,
        beside=beside.resolve(),
        max_bytes=settings.artifact_max_bytes,
    )
    return fleet, db
