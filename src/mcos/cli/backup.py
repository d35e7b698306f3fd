"""``mcos backup PATH`` and ``mcos restore PATH``: the fleet's database and artifact content in
one archive (see :mod:`mcos.storage.backup`); local commands, like ``mcos serve``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from mcos.cli._context import emit_json, json_option
from mcos.cli.db import fleet_option, on_database
from mcos.storage.backup import Manifest


def _summary(manifest: Manifest) -> str:
    counts = manifest.counts
    return (
        f"revision {manifest.revision}, events up to seq {manifest.last_seq}, "
        f"{counts.get('agents', 0)} agents, {counts.get('tasks', 0)} tasks, "
        f"{counts.get('artifacts', 0)} artifacts"
    )


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@fleet_option
@json_option
def backup(path: Path, fleet_path: str | None, as_json: bool) -> None:
    """Back up the fleet's database and artifact content to PATH (a new file), consistently,
    while the control plane keeps running."""
    from mcos.storage.backup import backup as make_backup

    started = time.monotonic()
    manifest = on_database(fleet_path, lambda db: make_backup(db, path))
    seconds = time.monotonic() - started
    if as_json:
        emit_json({"path": str(path), "bytes": path.stat().st_size} | manifest.as_dict())
        return
    click.echo(f"Backed up to {path} ({path.stat().st_size:,} bytes, {seconds:.1f} s):")
    click.echo(f"  {_summary(manifest)}")
    for sha in manifest.missing_blobs:
        click.echo(f"warning: artifact content {sha} was already missing", err=True)


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@fleet_option
@click.option("--force", is_flag=True, help="Replace a database that is not empty.")
@json_option
def restore(path: Path, fleet_path: str | None, force: bool, as_json: bool) -> None:
    """Restore the backup at PATH into the fleet's database (stop `mcos serve` first)."""
    from mcos.storage.backup import restore as apply_backup

    started = time.monotonic()
    manifest = on_database(fleet_path, lambda db: apply_backup(db, path, force=force))
    seconds = time.monotonic() - started
    if as_json:
        emit_json(manifest.as_dict())
        return
    click.echo(f"Restored {path} ({seconds:.1f} s): {_summary(manifest)}")
    click.echo("Next: `mcos db upgrade` if this mcos is newer, then `mcos serve`.")
