"""An agent's workspace files, opened so that no link can lead out of it.

Resolving a path and then opening it races: between the two, a folder can be swapped for a
symbolic link (an agent with ``exec`` can do it), and the open follows the link out of the
workspace. So nothing here resolves and then opens. Every open starts from the workspace's
folder and walks down one component at a time (``os.open(part, O_NOFOLLOW | O_DIRECTORY,
dir_fd=...)``): a symbolic link at any step, swapped in or not, fails the open itself. The
file is opened the same way, and checked on its descriptor (``fstat``), never by its name:

- a symbolic link, ``..``, or an absolute path is refused;
- a file with more than one hard link is refused (it may be a file outside, linked in);
- a write goes to a temporary file in the same folder, renamed over the old one (``renameat``):
  a reader sees the old file or the new, and the rename replaces the name, never what a link
  pointed to;
- ``.mcos`` (the runtime's own state) is never the agent's to read or write, and nothing inside
  a ``.git`` folder is written (a repository's hooks and config run code when git runs).

Names compare without case, as on the Mac Mini's file system. Portable to macOS: no
``openat2``, only ``openat``, ``mkdirat``, ``fstatat`` and ``renameat`` (Python's ``dir_fd``).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

MAX_READ_BYTES = 4_000_000
"""Bytes of a file read for the model (which is shown far fewer)."""
RUNTIME_STATE = ".mcos"
REPOSITORY = ".git"
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(ValueError):
    """A path the workspace refuses; the message says why, and what to do instead."""


# -- the agent's files: the rules, then the walk ---------------------------------------------


def workspace_parts(relative: str, *, writing: bool = False) -> tuple[str, ...]:
    """The components of ``relative``, or :class:`UnsafePath` saying why it is refused."""
    if not relative or "\x00" in relative:
        raise UnsafePath("give a path relative to your workspace, such as 'notes/today.md'")
    if relative.startswith("/"):
        raise UnsafePath(f"{relative!r} is outside your workspace; use a relative path")
    parts = tuple(p for p in relative.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafePath(f"{relative!r} is outside your workspace; use a relative path")
    if not parts:
        raise UnsafePath(f"{relative!r} is your workspace itself; name a file in it")
    lowered = [p.lower() for p in parts]
    if RUNTIME_STATE in lowered:
        raise UnsafePath(f"{relative!r} is the runtime's own state; it is not yours to touch")
    if writing and REPOSITORY in lowered:
        raise UnsafePath(
            f"{relative!r} is inside a .git folder, which is never written (its hooks and "
            "config run code when git runs); change the working files and commit them"
        )
    return parts


def workspace_path(root: Path, relative: str, *, writing: bool = False) -> Path:
    """The absolute path ``relative`` names (for the policy and for people; never to open)."""
    return root.joinpath(*workspace_parts(relative, writing=writing))


def read_text(root: Path, relative: str, *, limit: int = MAX_READ_BYTES) -> str:
    """The text of a regular workspace file (at most ``limit`` bytes of it)."""
    data = read_bytes_at(root, workspace_parts(relative), limit=limit, shown=relative)
    if data is None:
        raise UnsafePath(f"no file {relative!r} in your workspace")
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"\n[... only the first {limit:,} bytes of {relative} were read]"
    return text


def open_binary(root: Path, relative: str) -> BinaryIO:
    """A regular workspace file opened for reading, for readers that stream (workbooks).

    The caller closes it; its size is ``os.fstat(handle.fileno()).st_size``.
    """
    parts = workspace_parts(relative)
    try:
        folder = _open_folder(root, parts[:-1], create=False, shown=relative)
    except FileNotFoundError:
        raise UnsafePath(f"no file {relative!r} in your workspace") from None
    try:
        fd = _open_file(folder, parts[-1], os.O_RDONLY | os.O_NONBLOCK, relative)
    except FileNotFoundError:
        raise UnsafePath(f"no file {relative!r} in your workspace") from None
    finally:
        os.close(folder)
    try:
        _single_regular_file(os.fstat(fd), relative)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def write_text(root: Path, relative: str, content: str) -> None:
    """Replace (or create) a workspace file, atomically, making the folders it needs."""
    parts = workspace_parts(relative, writing=True)
    replace_bytes_at(root, parts, content.encode("utf-8"), shown=relative)


# -- the walk, for the agent's files and the runtime's own ----------------------------------


def read_bytes_at(
    root: Path, parts: Sequence[str], *, limit: int, shown: str | None = None
) -> bytes | None:
    """Up to ``limit + 1`` bytes of the regular file at ``parts``; ``None`` if there is none."""
    shown = shown or "/".join(parts)
    try:
        folder = _open_folder(root, parts[:-1], create=False, shown=shown)
    except FileNotFoundError:
        return None
    try:
        fd = _open_file(folder, parts[-1], os.O_RDONLY | os.O_NONBLOCK, shown)
    except FileNotFoundError:
        return None
    finally:
        os.close(folder)
    try:
        _single_regular_file(os.fstat(fd), shown)  # the file opened, not the name
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit + 1)


def replace_bytes_at(
    root: Path,
    parts: Sequence[str],
    data: bytes,
    *,
    shown: str | None = None,
    over_links: bool = False,
) -> None:
    """Write ``data`` as the file at ``parts``: a temporary file, renamed over the old one.

    A link (symbolic or hard) already at the name is refused, or with ``over_links`` replaced:
    the rename replaces the name, never what the link leads to (the runtime's own state).
    """
    shown = shown or "/".join(parts)
    folder = _open_folder(root, parts[:-1], create=True, shown=shown)
    try:
        name = parts[-1]
        old = None if over_links else _existing(folder, name, shown)
        temporary = f".mcos-write-{secrets.token_hex(8)}"
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o666,
            dir_fd=folder,
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                if old is not None:
                    os.fchmod(handle.fileno(), stat.S_IMODE(old.st_mode))
                handle.write(data)
            os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            try:
                os.unlink(temporary, dir_fd=folder)
            except OSError:
                pass
            raise
    except IsADirectoryError:
        raise UnsafePath(f"{shown!r} is a folder; name a file") from None
    finally:
        os.close(folder)


def remove_at(root: Path, parts: Sequence[str], *, shown: str | None = None) -> None:
    """Remove the file at ``parts`` (a link there is removed, never what it leads to); a file
    already gone is no error."""
    shown = shown or "/".join(parts)
    try:
        folder = _open_folder(root, parts[:-1], create=False, shown=shown)
    except FileNotFoundError:
        return
    try:
        os.unlink(parts[-1], dir_fd=folder)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        raise UnsafePath(f"{shown!r} is a folder; name a file") from None
    finally:
        os.close(folder)


def append_bytes_at(root: Path, parts: Sequence[str], data: bytes, *, header: bytes = b"") -> None:
    """Append ``data`` (after ``header`` if the file is new or empty), and fsync it."""
    shown = "/".join(parts)
    folder = _open_folder(root, parts[:-1], create=True, shown=shown)
    try:
        # O_NONBLOCK: a pipe planted under the name refuses at once rather than hang the writer.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
        fd = _open_file(folder, parts[-1], flags, shown)
    finally:
        os.close(folder)
    try:
        status = os.fstat(fd)
        _single_regular_file(status, shown)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "ab") as handle:
        handle.write((header if status.st_size == 0 else b"") + data)
        handle.flush()
        os.fsync(handle.fileno())


def _open_folder(root: Path, parts: Sequence[str], *, create: bool, shown: str) -> int:
    """A descriptor of the folder ``parts`` below ``root``, no link followed on the way."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for depth, part in enumerate(parts):
            try:
                inner = os.open(part, _DIRECTORY, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass  # made meanwhile: the open below decides what it is
                inner = _reopen(part, fd, parts[: depth + 1], shown)
            except OSError as exc:
                raise _folder_refusal(exc, fd, parts[: depth + 1], shown) from None
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _reopen(part: str, fd: int, done: Sequence[str], shown: str) -> int:
    try:
        return os.open(part, _DIRECTORY, dir_fd=fd)
    except OSError as exc:
        raise _folder_refusal(exc, fd, done, shown) from None


def _folder_refusal(exc: OSError, fd: int, done: Sequence[str], shown: str) -> UnsafePath:
    """Why a step of the walk failed. Linux says ENOTDIR for a link opened with O_DIRECTORY
    and O_NOFOLLOW, so what is there is looked at (for the message only: the open decided)."""
    if exc.errno == errno.ENOTDIR:
        try:
            if stat.S_ISLNK(os.stat(done[-1], dir_fd=fd, follow_symlinks=False).st_mode):
                return _link(shown)
        except OSError:
            pass
        return UnsafePath(f"{'/'.join(done)!r} (in {shown!r}) is not a folder")
    return _refusal(exc, shown)


def _open_file(folder: int, name: str, flags: int, shown: str) -> int:
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=folder)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _refusal(exc, shown) from None


def _existing(folder: int, name: str, shown: str) -> os.stat_result | None:
    """What is at ``name`` now, refused unless a single regular file (or nothing)."""
    try:
        status = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(status.st_mode):
        raise _link(shown)
    _single_regular_file(status, shown)
    return status


def _single_regular_file(status: os.stat_result, shown: str) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise UnsafePath(f"{shown!r} is a folder; name a file")
    if not stat.S_ISREG(status.st_mode):
        raise UnsafePath(f"{shown!r} is not a regular file (a pipe, socket or device)")
    if status.st_nlink > 1:
        raise UnsafePath(
            f"{shown!r} has {status.st_nlink} hard links, so it may be a file from outside your "
            "workspace; the file tools do not touch it (copy what you need to a new file)"
        )


def _refusal(exc: OSError, shown: str) -> UnsafePath:
    if exc.errno in (errno.ELOOP, errno.EMLINK):  # EMLINK: O_NOFOLLOW on a link (FreeBSD)
        return _link(shown)
    return UnsafePath(f"{shown!r} cannot be opened: {exc.strerror}")


def _link(shown: str) -> UnsafePath:
    return UnsafePath(
        f"{shown!r} is or passes through a symbolic link; the file tools follow no link, so "
        "nothing outside your workspace is reached (use the real path inside it)"
    )
