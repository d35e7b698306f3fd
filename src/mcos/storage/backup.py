"""Backups of a fleet's database and artifact content: one tar archive, made while the control
plane keeps running, restored into an empty database.

The archive holds ``manifest.json`` (format, back end, schema revision, newest event sequence
number and the row count of every table, all read from the same snapshot as the dump), the
database (``database.sqlite``, a copy made with SQLite's online backup API, or
``database.pgdump``, ``pg_dump -Fc`` of one exported snapshot, large objects included), and,
when artifacts are kept in a folder, that folder's blobs under ``artifacts/``.

Why this is consistent under load: SQLite's backup API copies every page in one step inside one
read transaction (WAL lets the writer go on meanwhile); on PostgreSQL the counts and ``pg_dump``
share one ``REPEATABLE READ`` snapshot. Folder blobs are written before the rows that name them,
so copying the folder after the snapshot finds every blob the snapshot names.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, inspect, text

from mcos import __version__
from mcos.errors import McosError
from mcos.storage.blobs import DirectoryBlobs
from mcos.storage.database import Database
from mcos.storage.migrations import known_revisions

FORMAT = "mcos-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
POSTGRES_MEMBER = "database.pgdump"
BLOBS_PREFIX = "artifacts/"
BLOB_MEMBER = re.compile(r"artifacts/([0-9a-f]{2})/([0-9a-f]{64})")
# SQLite's unix VFS: every connection to a WAL database holds a shared lock on this byte of the
# -shm file for as long as it is open (the "DMS" lock; src/os_unix.c, UNIX_SHM_DMS).
SQLITE_SHM_DMS_BYTE = 128


class BackupError(McosError):
    """A backup or restore that cannot go ahead; the message says why and what to do."""

    status = 400
    code = "backup_failed"


@dataclass
class Manifest:
    """What a backup holds, read from the same snapshot as its dump."""

    backend: str
    revision: str | None
    last_seq: int
    counts: dict[str, int]
    blob_store: str
    blob_files: int = 0
    missing_blobs: list[str] = field(default_factory=list)
    pg_dump_version: str | None = None
    created_at: str = ""
    mcos_version: str = __version__

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "mcos_version": self.mcos_version,
            "backend": self.backend,
            "revision": self.revision,
            "last_seq": self.last_seq,
            "counts": self.counts,
            "blobs": {
                "store": self.blob_store,
                "files": self.blob_files,
                "missing": self.missing_blobs,
            },
            "pg_dump_version": self.pg_dump_version,
        }

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            data = orjson.loads(raw)
            if data.get("format") != FORMAT:
                raise BackupError("this archive is not an mcos backup (no mcos manifest)")
            if data.get("format_version") != FORMAT_VERSION:
                raise BackupError(
                    f"this backup has format version {data.get('format_version')!r}; this mcos "
                    f"reads version {FORMAT_VERSION}: restore it with the mcos that made it "
                    f"({data.get('mcos_version')})"
                )
            blobs = data["blobs"]
            return cls(
                backend=str(data["backend"]),
                revision=data["revision"],
                last_seq=int(data["last_seq"]),
                counts={str(k): int(v) for k, v in data["counts"].items()},
                blob_store=str(blobs["store"]),
                blob_files=int(blobs["files"]),
                missing_blobs=[str(s) for s in blobs["missing"]],
                pg_dump_version=data.get("pg_dump_version"),
                created_at=str(data["created_at"]),
                mcos_version=str(data["mcos_version"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupError(f"the backup's manifest is damaged: {exc}") from None


# --- backing up ---------------------------------------------------------------------------


def backup(db: Database, path: Path) -> Manifest:
    """Write a backup of ``db`` (and its folder blobs) to ``path``, atomically: a reader never
    sees half an archive at ``path``."""
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new file", field="PATH")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mcos-backup-", dir=path.parent) as work:
        workdir = Path(work)
        if db.is_sqlite:
            dump = workdir / SQLITE_MEMBER
            manifest = _snapshot_sqlite(_sqlite_path(db), dump)
        else:
            dump = workdir / POSTGRES_MEMBER
            manifest = _snapshot_postgres(db, dump)
        manifest.created_at = datetime.now(UTC).isoformat()
        manifest.blob_store = db.blobs.kind
        blobs = _folder_blobs(db)
        wanted = _named_blobs(db, dump) if isinstance(db.blobs, DirectoryBlobs) else set()
        manifest.blob_files = len(blobs)
        manifest.missing_blobs = sorted(wanted - set(blobs))
        partial = workdir / "backup.tar.gz"
        with tarfile.open(partial, "w:gz", compresslevel=1) as archive:
            _add_bytes(
                archive, MANIFEST, orjson.dumps(manifest.as_dict(), option=orjson.OPT_INDENT_2)
            )
            archive.add(dump, arcname=dump.name)
            for sha, blob in sorted(blobs.items()):
                archive.add(blob, arcname=f"{BLOBS_PREFIX}{sha[:2]}/{sha}")
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.rename(path)
    return manifest


def _sqlite_path(db: Database) -> Path:
    return Path(db.url.database or "")


def _snapshot_sqlite(source: Path, target: Path) -> Manifest:
    if not source.is_file():
        raise BackupError(f"there is no database at {source}", field="MCOS_DATABASE_URL")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        # pages=-1: every page in one step, inside one read transaction: one snapshot.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        return _sqlite_manifest(dst)
    finally:
        src.close()
        dst.close()


def _sqlite_manifest(conn: sqlite3.Connection) -> Manifest:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    counts = {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}
    revision = None
    last_seq = 0
    if "alembic_version" in names:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    if "events" in names:
        last_seq = int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    return Manifest("sqlite", revision, last_seq, dict(sorted(counts.items())), "directory")


def _postgres_manifest(conn: Connection) -> Manifest:
    names = sorted(inspect(conn).get_table_names())
    counts = {n: int(conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}
    counts["pg_largeobject_metadata"] = int(
        conn.execute(text("SELECT count(*) FROM pg_largeobject_metadata")).scalar_one()
    )
    revision = None
    last_seq = 0
    if "alembic_version" in names:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if "events" in names:
        last_seq = int(conn.execute(text("SELECT coalesce(max(seq), 0) FROM events")).scalar_one())
    return Manifest("postgresql", revision, last_seq, counts, "postgresql")


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on PATH; install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client) of the server's major version"
        )
    return found


def _tool_major(tool: str) -> tuple[int, str]:
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if match is None:
        raise BackupError(f"cannot tell the version of {tool} from {out.strip()!r}")
    return int(match.group(1)), match.group(0)


def _libpq(db: Database) -> tuple[str, dict[str, str]]:
    """A connection URI without the password, and the environment that carries it: a password
    on a command line is visible to every user in ``ps``."""
    env = dict(os.environ)
    if db.url.password:
        env["PGPASSWORD"] = str(db.url.password)
    uri = db.url.set(drivername="postgresql", password=None)
    return uri.render_as_string(hide_password=False), env


def _snapshot_postgres(db: Database, target: Path) -> Manifest:
    pg_dump = _pg_tool("pg_dump")
    major, version = _tool_major(pg_dump)
    uri, env = _libpq(db)
    with db.read_engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
        if major < server:
            raise BackupError(
                f"pg_dump {version} cannot dump a PostgreSQL {server} server; put pg_dump "
                f"{server} (or newer) first on PATH"
            )
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        manifest = _postgres_manifest(conn)
        # The transaction stays open until pg_dump has read the snapshot it exported.
        result = subprocess.run(
            [pg_dump, "-Fc", f"--snapshot={snapshot}", "--file", str(target), "--dbname", uri],
            env=env,
            capture_output=True,
            text=True,
        )
        conn.rollback()
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    manifest.pg_dump_version = version
    return manifest


def _folder_blobs(db: Database) -> dict[str, Path]:
    """Every whole blob in the artifacts folder (none when blobs live in the database)."""
    if not isinstance(db.blobs, DirectoryBlobs) or not db.blobs.root.is_dir():
        return {}
    found: dict[str, Path] = {}
    for folder in db.blobs.root.iterdir():
        if not folder.is_dir() or not re.fullmatch(r"[0-9a-f]{2}", folder.name):
            continue
        for blob in folder.iterdir():  # temporary files have other names
            if re.fullmatch(r"[0-9a-f]{64}", blob.name) and blob.name[:2] == folder.name:
                found[blob.name] = blob
    return found


def _named_blobs(db: Database, dump: Path) -> set[str]:
    """The blobs the snapshot's artifact rows name."""
    if db.is_sqlite:
        copy = sqlite3.connect(dump)
        try:
            has = copy.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'artifacts'"
            ).fetchone()
            rows = copy.execute("SELECT DISTINCT sha256 FROM artifacts").fetchall() if has else []
        finally:
            copy.close()
        return {str(r[0]) for r in rows}
    with db.read_engine.connect() as conn:  # blobs only ever grow: a later read is a superset
        if "artifacts" not in inspect(conn).get_table_names():
            return set()
        return {str(r[0]) for r in conn.execute(text("SELECT DISTINCT sha256 FROM artifacts"))}


def _add_bytes(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(content))


# --- restoring ----------------------------------------------------------------------------


def read_manifest(path: Path) -> Manifest:
    if not path.is_file():
        raise BackupError(f"there is no backup at {path}", field="PATH")
    try:
        with tarfile.open(path, "r:*") as archive:
            member = archive.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            return Manifest.parse(member.read())
    except (tarfile.TarError, KeyError, EOFError, OSError) as exc:
        raise BackupError(f"{path} is not an mcos backup: {exc}", field="PATH") from None


@dataclass(frozen=True)
class Occupant:
    """What the target database already holds."""

    tables: int
    events: int


def occupant(db: Database) -> Occupant | None:
    """What is in the target database, or ``None`` when it is empty (no tables)."""
    if db.is_sqlite and not _sqlite_path(db).exists():
        return None
    with db.read_engine.connect() as conn:
        names = inspect(conn).get_table_names()
        if not names:
            return None
        events = 0
        if "events" in names:
            events = int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())
    return Occupant(len(names), events)


def in_use(db: Database) -> str | None:
    """Why the target database looks open by a running control plane, or ``None``."""
    if db.is_sqlite:
        shm = Path(f"{_sqlite_path(db)}-shm")
        if not shm.exists():
            return None
        fd = os.open(shm, os.O_RDWR)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SQLITE_SHM_DMS_BYTE)
        except OSError:
            return f"another process has {_sqlite_path(db)} open (is `mcos serve` running?)"
        else:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, SQLITE_SHM_DMS_BYTE)
        finally:
            os.close(fd)
        return None
    with db.read_engine.connect() as conn:
        others = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    db.read_engine.dispose()  # our own pooled connections are not left to count as others
    if others:
        return f"{others} other connection(s) are open to this database (is `mcos serve` running?)"
    return None


def restore(db: Database, path: Path, *, force: bool = False) -> Manifest:
    """Replace ``db``'s content with the backup at ``path`` and check it against the manifest.

    Refuses a database a running control plane has open, and (unless ``force``) one that is
    not empty."""
    manifest = read_manifest(path)
    backend = "sqlite" if db.is_sqlite else "postgresql"
    if manifest.backend != backend:
        raise BackupError(
            f"this is a {manifest.backend} backup; the fleet's database is {backend}: restore "
            f"it into a {manifest.backend} database (MCOS_DATABASE_URL)",
            field="MCOS_DATABASE_URL",
        )
    if manifest.revision is not None and manifest.revision not in known_revisions():
        raise BackupError(
            f"this backup's schema revision {manifest.revision} is newer than this mcos knows; "
            f"restore it with mcos {manifest.mcos_version} or newer"
        )
    if isinstance(db.blobs, DirectoryBlobs) != (manifest.blob_store == "directory"):
        raise BackupError(
            f"this backup keeps artifact content in {manifest.blob_store!r} but the fleet is set "
            f"to {db.blobs.kind!r}; set MCOS_ARTIFACTS_STORE={manifest.blob_store}",
            field="MCOS_ARTIFACTS_STORE",
        )
    busy = in_use(db)
    if busy is not None:
        raise BackupError(f"refusing to restore: {busy}; stop it first")
    there = occupant(db)
    if there is not None and not force:
        raise BackupError(
            f"the fleet's database is not empty ({there.tables} tables, {there.events} "
            "events); restore into an empty database, or pass --force to replace it",
            field="--force",
        )
    target_dir = _sqlite_path(db).resolve().parent if db.is_sqlite else path.resolve().parent
    target_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=".mcos-restore-", dir=target_dir) as work,
        tarfile.open(path, "r:*") as archive,
    ):
        member = SQLITE_MEMBER if db.is_sqlite else POSTGRES_MEMBER
        dump = Path(work) / member
        _extract(archive, member, dump)
        if db.is_sqlite:
            _restore_sqlite(dump, _sqlite_path(db), manifest)
        else:
            _restore_postgres(db, dump, manifest, replace=there is not None)
        if isinstance(db.blobs, DirectoryBlobs):
            _restore_blobs(archive, db.blobs.root)
    found = _counts_now(db)
    wrong = {
        name: (count, found.get(name))
        for name, count in manifest.counts.items()
        if found.get(name) != count
    }
    if wrong:
        detail = ", ".join(
            f"{n}: {want} in the backup, {got} restored" for n, (want, got) in wrong.items()
        )
        raise BackupError(f"the restored database does not match the backup's manifest ({detail})")
    return manifest


def _extract(archive: tarfile.TarFile, name: str, target: Path) -> None:
    try:
        source = archive.extractfile(name)
    except KeyError:
        source = None
    if source is None:
        raise BackupError(f"the backup has no {name}", field="PATH")
    with source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _restore_sqlite(dump: Path, target: Path, manifest: Manifest) -> None:
    src = sqlite3.connect(dump)
    try:
        if _sqlite_manifest(src).counts != manifest.counts:
            raise BackupError("the backup's database does not match its manifest (damaged?)")
        dst = sqlite3.connect(target, timeout=30)
        try:
            dst.execute("PRAGMA journal_mode=WAL")
            src.backup(dst, pages=-1)  # one transaction: the target is all old or all new
        finally:
            dst.close()
    finally:
        src.close()


def _restore_postgres(db: Database, dump: Path, manifest: Manifest, *, replace: bool) -> None:
    pg_restore = _pg_tool("pg_restore")
    major, version = _tool_major(pg_restore)
    made_by = int((manifest.pg_dump_version or "0").split(".")[0])
    if major < made_by:
        raise BackupError(
            f"pg_restore {version} cannot read a dump made by pg_dump {manifest.pg_dump_version}; "
            f"put pg_restore {made_by} (or newer) first on PATH"
        )
    if replace:
        with db.write_engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            conn.execute(text("SELECT lo_unlink(oid) FROM pg_largeobject_metadata"))
    uri, env = _libpq(db)
    result = subprocess.run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            uri,
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")


def _restore_blobs(archive: tarfile.TarFile, root: Path) -> None:
    """Put each blob in place as the store does: whole, or not at all."""
    blobs = DirectoryBlobs(root)
    for member in archive:
        if not member.name.startswith(BLOBS_PREFIX):
            continue
        match = BLOB_MEMBER.fullmatch(member.name)
        if match is None or not member.isfile() or match.group(1) != match.group(2)[:2]:
            raise BackupError(f"the backup holds an unexpected file {member.name!r}", field="PATH")
        target = blobs.path(match.group(2))
        if target.exists():
            continue
        source = archive.extractfile(member)
        assert source is not None, "a regular file has content"
        blobs.stage(match.group(2), source.read())


def _counts_now(db: Database) -> dict[str, int]:
    if db.is_sqlite:
        restored = sqlite3.connect(_sqlite_path(db))
        try:
            return _sqlite_manifest(restored).counts
        finally:
            restored.close()
    with db.read_engine.connect() as conn:
        return _postgres_manifest(conn).counts
