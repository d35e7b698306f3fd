"""Office files (.docx, .xlsx) are ZIP archives: what one would unpack to, read from its
central directory before anything is unpacked, so a small upload cannot expand into gigabytes
in a reader (a preview, the legal checker)."""

from __future__ import annotations

import io
import zipfile

MAX_UNPACKED = 200 * 1024 * 1024
"""Bytes an Office file may unpack to before a reader refuses it unread."""


def unpacked_size(content: bytes) -> int:
    """The sum of the archive's members' sizes; raises ``zipfile.BadZipFile`` (or
    ``ValueError``/``OSError``) for what is not a ZIP."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return sum(member.file_size for member in archive.infolist())
