"""Absolute paths as the file system reads them, and the protected-path patterns they meet.

``/srv/fibreflow/staging/../production`` is ``/srv/fibreflow/production``: a path is normalised
(``posixpath.normpath``, one leading slash) before it is matched, so ``..`` cannot step around a
protection. Matching ignores case, because the seed's Mac Mini (APFS, HFS+) does: refusing
``/SRV/FibreFlow/Production`` on Linux too costs nothing. A relative path has no meaning to
the guard and is never matched (the policy refuses it instead).

Pure: nothing here touches the file system, so symbolic links are not followed (the file tools
refuse them; see ``mcos.runtime.files``).
"""

from __future__ import annotations

import posixpath
from fnmatch import fnmatchcase

_GLOB = frozenset("*?[")


def normalise_path(path: str) -> str | None:
    """``path`` without ``.``, ``..``, doubled or trailing slashes; ``None`` if it is relative."""
    if not path.startswith("/") or "\x00" in path:
        return None
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/")  # POSIX keeps a leading "//"; the kernel does not care


def matches(path: str, pattern: str) -> bool:
    """Whether the absolute ``path`` falls under ``pattern``: a glob (``/srv/x/**``) it matches,
    or a plain path it is or lies below (a protected folder protects what is in it)."""
    normal = normalise_path(path)
    if normal is None:
        return False
    glob = _normal_pattern(pattern).lower()
    normal = normal.lower()
    if not _GLOB & set(glob):
        return is_within(normal, glob)
    return fnmatchcase(normal, glob) or fnmatchcase(normal + "/", glob)


def literal_root(pattern: str) -> str:
    """The folder a pattern's matches all lie in: the part before its first wildcard.

    ``/srv/fibreflow/production/**`` gives ``/srv/fibreflow/production``; ``/srv/*/env`` gives
    ``/srv``; ``**/.env`` gives ``/``.
    """
    if not pattern.startswith("/"):
        return "/"
    parts = []
    for part in _normal_pattern(pattern).split("/")[1:]:
        if _GLOB & set(part):
            break
        parts.append(part)
    return "/" + "/".join(parts)


def is_within(path: str, folder: str) -> bool:
    """Whether the absolute ``path`` is ``folder`` or lies below it (case ignored)."""
    inner, outer = normalise_path(path), normalise_path(folder)
    if inner is None or outer is None:
        return False
    inner, outer = inner.lower(), outer.lower()
    return outer == "/" or inner == outer or inner.startswith(outer + "/")


def _normal_pattern(pattern: str) -> str:
    if pattern.startswith("/"):
        return normalise_path(pattern) or pattern
    return pattern
