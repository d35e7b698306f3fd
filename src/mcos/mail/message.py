"""What every mailbox kind reads and sends, whatever its protocol.

A :class:`MailSource` reads new mail since a cursor (an opaque JSON document the source alone
understands: UIDVALIDITY and last UID for IMAP, the delta link for Graph) and saves drafts; a
:class:`MailSender` sends one :class:`OutgoingMail`, exactly as given. Failures are
:class:`MailboxError` with a kind, so a caller can report them and carry on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

MAX_TEXT_CHARS = 50_000
"""The plain-text body kept of a message; the rest is cut (and said so)."""
MAX_ATTACHMENTS = 50
"""Attachments listed per message (their names, types and sizes: never opened)."""

ErrorKind = Literal["auth", "network", "protocol", "config"]


class MailboxError(Exception):
    """A mailbox could not be read or written: reported, never a crash of the agent."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    """Bytes, as the server reports them."""


@dataclass(frozen=True)
class MailItem:
    """One message as read, before the control plane stores it."""

    key: str
    """Unique within the account and stable across syncs: ``"{uidvalidity}:{uid}"`` for IMAP,
    the message's immutable id for Graph."""
    message_id: str
    """The ``Message-ID`` header (``""`` when the message has none)."""
    thread: str
    """Messages of one conversation share it: Graph's ``conversationId``; for IMAP the first
    id of ``References`` (else ``In-Reply-To``, else the message's own ``Message-ID``)."""
    sender: str
    """The From address, lower case."""
    sender_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    received_at: datetime
    """UTC-aware."""
    text: str
    """The plain-text body (HTML turned into text), at most :data:`MAX_TEXT_CHARS`."""
    attachments: tuple[Attachment, ...] = ()
    in_reply_to: str = ""

    @classmethod
    def from_json(cls, view: Mapping[str, Any]) -> MailItem:
        """A mail as the API gives it back (``GET /api/v1/mail/messages/{id}``) or as
        :meth:`as_json` wrote it."""
        return cls(
            key=view["key"],
            message_id=view["message_id"],
            thread=view["thread"],
            sender=view["sender"],
            sender_name=view["sender_name"],
            to=tuple(view["to"]),
            cc=tuple(view["cc"]),
            subject=view["subject"],
            received_at=datetime.fromisoformat(view["received_at"]).astimezone(UTC),
            text=view["text"],
            attachments=tuple(
                Attachment(a["filename"], a["content_type"], a["size"]) for a in view["attachments"]
            ),
            in_reply_to=view.get("in_reply_to", ""),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "message_id": self.message_id,
            "thread": self.thread,
            "sender": self.sender,
            "sender_name": self.sender_name,
            "to": list(self.to),
            "cc": list(self.cc),
            "subject": self.subject,
            "received_at": self.received_at.isoformat(),
            "text": self.text,
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in self.attachments
            ],
            "in_reply_to": self.in_reply_to,
        }


@dataclass(frozen=True)
class SyncBatch:
    items: list[MailItem]
    cursor: dict[str, Any]
    """Where the next read starts, once these items are stored."""
    more: bool = False
    """More new mail is waiting beyond ``limit``: read again from ``cursor``."""
    reset: bool = False
    """The server's mailbox changed identity (a new UIDVALIDITY, an expired delta link): the
    read started over; items already stored are recognised by their ``message_id``."""


@dataclass(frozen=True)
class OutgoingMail:
    """A message exactly as it will be sent; :meth:`body_sha256` freezes it in an approval."""

    sender: str
    to: tuple[str, ...]
    subject: str
    body: str
    cc: tuple[str, ...] = ()
    in_reply_to: str = ""
    """The ``Message-ID`` replied to; ``References`` follows from it."""
    references: tuple[str, ...] = field(default=())

    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc

    def body_sha256(self) -> str:
        """A hash of everything a reader of the message sees, recipients and subject included."""
        canonical = json.dumps(
            {
                "from": self.sender,
                "to": list(self.to),
                "cc": list(self.cc),
                "subject": self.subject,
                "body": self.body,
                "in_reply_to": self.in_reply_to,
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


class MailSource(Protocol):
    """Reads one account; built from its ``[[mail.accounts]]`` entry and its secret."""

    async def fetch(
        self, cursor: dict[str, Any] | None, limit: int, *, since: datetime | None = None
    ) -> SyncBatch:
        """New messages after ``cursor`` (``None``: the first sync), oldest first, at most
        ``limit``. ``since``, on a first read (no cursor, or a reset): skip what arrived
        before it, where the server can say so cheaply (the caller filters again). Raises
        :class:`MailboxError`."""
        ...

    async def save_draft(self, mail: OutgoingMail) -> str:
        """Save ``mail`` to the account's drafts; returns the server's reference to it."""
        ...

    async def close(self) -> None: ...


class MailSender(Protocol):
    async def send(self, mail: OutgoingMail) -> str:
        """Send exactly ``mail``; returns its ``Message-ID`` (or the server's reference).
        Raises :class:`MailboxError`."""
        ...

    async def close(self) -> None: ...
