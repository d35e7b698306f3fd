"""Where artifact content lives: content-addressed blobs, one per distinct SHA-256.

Two backends behind one small interface. :class:`DirectoryBlobs` keeps each blob as a file named
by its hash (``ab/abcdef…``), written to a temporary file, flushed and renamed into place, so a
reader sees the whole blob or none. :class:`PostgresLargeObjects` keeps each blob as a
PostgreSQL large object (``lo_from_bytea`` / ``lo_get``, server-side functions, so no driver
API is needed), found through the ``artifact_blobs`` table (hash → oid).

Blobs are written before the row that names them: with a directory, a crash between the two
leaves at most an orphan file (never a row without content); with large objects the blob is
written in the same transaction as the row, so the two commit or vanish together.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, insert, select, text

from mcos.errors import McosError
from mcos.storage import tables

B = tables.artifact_blobs
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
"""``MCOS_ARTIFACT_MAX_BYTES``'s default."""


class BlobMissing(McosError):
    """A row names a blob the store does not have (deleted by hand, or another store)."""

    status = 500
    code = "blob_missing"


class BlobStore(Protocol):
    kind: str
    """``directory`` or ``postgresql``: what ``/api/v1/health`` and the docs call it."""
    max_bytes: int
    """The largest blob accepted (``MCOS_ARTIFACT_MAX_BYTES``); callers refuse larger ones."""

    def stage(self, sha256: str, content: bytes) -> None:
        """Write the blob outside any transaction where the backend can (a file), so that the
        writer thread does not wait on the disk; a no-op where it cannot."""
        ...

    def put(self, conn: Connection, sha256: str, content: bytes) -> bool:
        """Store the blob (in ``conn``'s transaction where the backend is the database);
        ``False`` when it was already there (content-addressed: stored once)."""
        ...

    def get(self, conn: Connection, sha256: str) -> bytes:
        """The blob's bytes, or :class:`BlobMissing`."""
        ...


class DirectoryBlobs:
    """Blobs as files under ``root``: ``root/ab/abcdef…`` (the full hex SHA-256)."""

    kind = "directory"

    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a hex SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def stage(self, sha256: str, content: bytes) -> None:
        self._write(sha256, content)

    def put(self, conn: Connection, sha256: str, content: bytes) -> bool:
        return self._write(sha256, content)

    def _write(self, sha256: str, content: bytes) -> bool:
        target = self.path(sha256)
        if target.is_file() and target.stat().st_size == len(content):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{sha256}.{secrets.token_hex(6)}.tmp")
        try:
            with temporary.open("wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)
        return True

    def get(self, conn: Connection, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(
                f"the content {sha256} is missing from {self.root}; restore the artifacts "
                "folder from a backup"
            ) from None

    def count(self) -> int:
        """How many blobs are stored (for tests and the operator)."""
        if not self.root.is_dir():
            return 0
        return sum(1 for p in self.root.glob("??/*") if not p.name.startswith("."))


class PostgresLargeObjects:
    """Blobs as PostgreSQL large objects, written in the unit's own transaction."""

    kind = "postgresql"

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes

    def stage(self, sha256: str, content: bytes) -> None:
        return None

    def put(self, conn: Connection, sha256: str, content: bytes) -> bool:
        if conn.execute(select(B.c.sha256).where(B.c.sha256 == sha256)).first() is not None:
            return False
        oid = conn.execute(text("SELECT lo_from_bytea(0, :data)"), {"data": content}).scalar()
        conn.execute(insert(B).values(sha256=sha256, oid=oid, size=len(content)))
        return True

    def get(self, conn: Connection, sha256: str) -> bytes:
        row = conn.execute(
            text("SELECT lo_get(oid) FROM artifact_blobs WHERE sha256 = :sha"), {"sha": sha256}
        ).first()
        if row is None:
            raise BlobMissing(f"the content {sha256} is missing from the database")
        return bytes(row[0])


def open_blob_store(
    kind: str,
    *,
    is_sqlite: bool,
    directory: Path | None,
    beside: Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> BlobStore:
    """The store ``MCOS_ARTIFACTS_STORE`` names: ``auto`` is large objects on PostgreSQL unless
    a directory is given, else the directory (``beside/artifacts`` by default)."""
    if kind == "auto":
        kind = "postgresql" if not is_sqlite and directory is None else "directory"
    if kind == "postgresql":
        if is_sqlite:
            raise McosError(
                "MCOS_ARTIFACTS_STORE=postgresql needs a PostgreSQL database; this one is "
                "SQLite (use directory, or auto)",
                field="MCOS_ARTIFACTS_STORE",
            )
        return PostgresLargeObjects(max_bytes=max_bytes)
    return DirectoryBlobs(directory or beside / "artifacts", max_bytes=max_bytes)
