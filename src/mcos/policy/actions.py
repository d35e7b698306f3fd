"""The kinds of action an agent asks about before acting, and the capability each needs."""

from __future__ import annotations

from dataclasses import dataclass

from mcos.contract.vocab import ActionKind

# Kind -> capability. An unknown kind is refused: nothing unforeseen is allowed by default.
ACTION_KINDS: dict[str, str] = {
    ActionKind.FILE_READ: "read",
    ActionKind.FILE_WRITE: "write",
    ActionKind.FILE_DELETE: "write",
    ActionKind.SHELL_EXEC: "exec",
    ActionKind.HTTP_FETCH: "network",
    ActionKind.EMAIL_SEND: "email.send",
    ActionKind.MESSAGE_BROADCAST: "broadcast",
    ActionKind.PAYMENT_SEND: "spend",
    ActionKind.GIT_COMMIT: "write",
    ActionKind.DEPLOY_RUN: "exec",
    ActionKind.SERVICE_RESTART: "exec",
    ActionKind.SERVICE_ROLLBACK: "exec",
}


# Kind -> what the action must say for its limits to be checked. An action without it is
# refused: a payment without an amount would otherwise pass the spending limit unexamined.
REQUIRED: dict[str, tuple[str, ...]] = {
    ActionKind.FILE_WRITE: ("paths",),
    ActionKind.FILE_DELETE: ("paths",),
    ActionKind.SHELL_EXEC: ("command",),
    ActionKind.HTTP_FETCH: ("host",),
    ActionKind.EMAIL_SEND: ("recipient", "draft", "body_sha256"),
    ActionKind.PAYMENT_SEND: ("amount_usd",),
    ActionKind.GIT_COMMIT: ("files_touched", "paths"),
    ActionKind.DEPLOY_RUN: ("target", "files_touched"),
    ActionKind.SERVICE_RESTART: ("target", "command"),
    ActionKind.SERVICE_ROLLBACK: ("target", "command"),
}

# Kinds whose ``paths`` are files or folders on the agent's machine.
FILE_KINDS = frozenset(
    {
        ActionKind.FILE_READ,
        ActionKind.FILE_WRITE,
        ActionKind.FILE_DELETE,
        ActionKind.SHELL_EXEC,
        ActionKind.GIT_COMMIT,
        ActionKind.DEPLOY_RUN,
    }
)


@dataclass(frozen=True)
class Action:
    """The exact thing an agent wants to do, as it would be done."""

    kind: str
    command: str | None = None
    """For ``shell.exec`` and ``deploy.run``: the command line, verbatim; for a service's
    remedy, the runbook's command (the only one the runner carries out)."""
    paths: tuple[str, ...] = ()
    """Files or folders read, written, deleted or run in."""
    host: str | None = None
    """For ``http.fetch``: the host reached."""
    recipient: str | None = None
    """For ``email.send``: the address."""
    amount_usd: float | None = None
    """For ``payment.send``."""
    files_touched: int | None = None
    """For ``git.commit``, ``deploy.run`` and ``file.write``: how many files the change touches."""
    addresses: tuple[str, ...] = ()
    """For ``http.fetch``: every IP address the host resolved to, one of which is connected to."""
    port: int | None = None
    """For ``http.fetch``: the port reached."""
    target: str | None = None
    """For ``deploy.run``: the deploy target's name; for ``git.commit``: the repository's path;
    for ``service.restart`` and ``service.rollback``: the service's name."""
    draft: int | None = None
    """For ``email.send``: the stored draft sent, exactly as it is."""
    subject: str | None = None
    """For ``email.send``: the subject line."""
    body_sha256: str | None = None
    """For ``email.send``: the hash of the whole message (sender, recipients, subject, body)."""
    recipients: tuple[str, ...] = ()
    """For ``email.send``: every address it goes to (``recipient`` is the first)."""
