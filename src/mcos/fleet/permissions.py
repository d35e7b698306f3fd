"""The fleet's state is its owner's alone: 0700 folders and 0600 files.

The CLI sets its umask to 077, so what it creates is private; :func:`tighten` fixes state an
older version (or another tool) left readable by others, once at start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def _private(path: Path, mode: int) -> bool:
    """Set ``mode`` if the group or others have any access; whether it changed anything."""
    try:
        current = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(current.st_mode) or not (current.st_mode & 0o077):
        return False
    os.chmod(path, mode)
    return True


def tighten(folder: Path) -> list[Path]:
    """Make the database, ``.mcos`` (tokens, runner state) and the workspaces private; return
    the paths whose modes were changed."""
    changed = []
    for name in ("mcos.db", "mcos.db-wal", "mcos.db-shm"):
        if _private(folder / name, PRIVATE_FILE):
            changed.append(folder / name)
    state = folder / ".mcos"
    if state.is_dir() and not state.is_symlink():
        for root, dirs, files in os.walk(state):
            here = Path(root)
            if _private(here, PRIVATE_DIR):
                changed.append(here)
            changed += [here / f for f in files if _private(here / f, PRIVATE_FILE)]
            dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
    workspaces = folder / "workspaces"
    if workspaces.is_dir() and not workspaces.is_symlink():
        if _private(workspaces, PRIVATE_DIR):
            changed.append(workspaces)
        for agent in workspaces.iterdir():
            if agent.is_dir() and not agent.is_symlink() and _private(agent, PRIVATE_DIR):
                changed.append(agent)
    return changed
