"""The kinds of action an agent asks about before acting, and the capability each needs."""

from __future__ import annotations

from dataclasses import dataclass

# Kind -> capability. An unknown kind is refused: nothing unforeseen is allowed by default.
ACTION_KINDS: dict[str, str] = {
    "file.read": "read",
    "file.write": "write",
    "file.delete": "write",
    "shell.exec": "exec",
    "http.fetch": "network",
    "email.send": "email.send",
    "message.broadcast": "broadcast",
    "payment.send": "spend",
    "git.commit": "write",
    "deploy.run": "exec",
}


@dataclass(frozen=True)
class Action:
    """The exact thing an agent wants to do, as it would be done."""

    kind: str
    command: str | None = None
    """For ``shell.exec`` and ``deploy.run``: the command line, verbatim."""
    paths: tuple[str, ...] = ()
    """Files or folders read, written, deleted or run in."""
    host: str | None = None
    """For ``http.fetch``: the host reached."""
    recipient: str | None = None
    """For ``email.send``: the address."""
    amount_usd: float | None = None
    """For ``payment.send``."""
    files_touched: int | None = None
    """For ``git.commit`` and ``file.write``: how many files the change touches."""
