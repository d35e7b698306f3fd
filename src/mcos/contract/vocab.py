"""The fleet's shared words, defined once: roles, priorities, severities, task statuses, message
kinds, action kinds and event types.

The control plane, the runtime, the CLI and any client speak these words on the wire; each is
written here and imported everywhere else, so a new priority or action kind is one change, not
five. Pure: this module imports only the domain's own vocabulary.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

from mcos.domain import events as _events
from mcos.domain.kanban import TaskStatus
from mcos.stream import RESYNC

ORCHESTRATOR = "orchestrator"
"""The fleet role with fleet powers (routing, nudges, committees, the briefing) and the one that
confirms P1 and P0 incidents."""
HUMAN = "human"
"""The operator, where a party or a voter is named among agents (approvers, committees)."""

OperatorRole = Literal["owner", "approver", "viewer"]
"""A person's powers: ``owner`` everything; ``approver`` decides and acts on the fleet's work but
issues no token, names no operator and sets no budget; ``viewer`` sees everything, changes
nothing."""
OPERATOR_NAME_PATTERN = r"^[a-z][a-z0-9._-]{0,63}$"
"""A person's name as the log shows it (``operator:alice``): lowercase, no spaces."""
OPERATOR_ROLES: tuple[OperatorRole, ...] = get_args(OperatorRole)
DECIDING_ROLES: frozenset[str] = frozenset({"owner", "approver"})
"""The roles that may stand for ``human`` (an approval, an incident's confirmation, a vote)."""


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PriorityName = Literal["low", "normal", "high", "urgent"]
""":class:`Priority` as a ``Literal``, for tool schemas and settings that take the plain word."""
PRIORITY_RANK: dict[str, int] = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
"""Most urgent first: the order work is listed and taken in."""

Severity = Literal["P0", "P1", "P2", "P3"]
"""An incident's severity: P0 the worst (the escalation table says who confirms each)."""
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

TASK_STATUSES: tuple[str, ...] = tuple(status.value for status in TaskStatus)
"""The Kanban columns (:class:`mcos.domain.kanban.TaskStatus`), in board order."""


class MessageKind(StrEnum):
    DIRECTIVE = "directive"
    REPORT = "report"
    QUESTION = "question"
    CHAT = "chat"


MessageKindName = Literal["directive", "report", "question", "chat"]
""":class:`MessageKind` as a ``Literal``."""


class ActionKind(StrEnum):
    """What an agent asks about before acting (``POST /api/v1/actions``); the policy maps each
    to the capability it needs (:data:`mcos.policy.actions.ACTION_KINDS`)."""

    FILE_READ = "file.read"
    FILE_WRITE = "file.write"
    FILE_DELETE = "file.delete"
    SHELL_EXEC = "shell.exec"
    HTTP_FETCH = "http.fetch"
    EMAIL_SEND = "email.send"
    MESSAGE_BROADCAST = "message.broadcast"
    PAYMENT_SEND = "payment.send"
    GIT_COMMIT = "git.commit"
    DEPLOY_RUN = "deploy.run"
    SERVICE_RESTART = "service.restart"
    SERVICE_ROLLBACK = "service.rollback"


EVENT_TYPES: tuple[str, ...] = (
    *sorted(
        value
        for name, value in vars(_events).items()
        if name.isupper() and isinstance(value, str) and "." in value
    ),
    RESYNC,
)
"""Every event type the control plane writes (the constants of :mod:`mcos.domain.events`), and
``stream.resync``, which only the live stream sends. Clients may post their own types outside
the control plane's namespaces (``runtime.tool_called``)."""
