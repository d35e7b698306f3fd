"""What the fake Microsoft Graph holds: tenants and apps, mailboxes, delta rounds, what was
sent. Thread-safe: the test thread adds mail while the server thread answers."""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _recipients(addresses: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"name": a.split("@")[0], "address": a}} for a in addresses]


@dataclass(frozen=True)
class FakeAttachment:
    name: str
    content_type: str = "application/pdf"
    content: bytes = b"%PDF-1.4 fake"

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class FakeMessage:
    """One message in a fake mailbox; :meth:`to_json` is Graph's ``message`` resource."""

    id: str
    internet_message_id: str
    conversation_id: str
    sender: str
    sender_name: str
    subject: str
    body: str
    body_type: str = "text"
    """``text`` or ``html``, as Graph's ``body.contentType``."""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    received_at: datetime = _EPOCH
    attachments: tuple[FakeAttachment, ...] = ()
    folder: str = "inbox"
    is_draft: bool = False
    in_reply_to: str = ""
    """For a reply made with ``createReply``: the original's ``internetMessageId``."""
    seq: int = 0

    def to_json(self) -> dict[str, Any]:
        sender = {"emailAddress": {"name": self.sender_name, "address": self.sender}}
        return {
            "@odata.type": "#microsoft.graph.message",
            "@odata.etag": f'W/"CQAAABYAAAD{self.seq:08d}"',
            "id": self.id,
            "createdDateTime": graph_time(self.received_at),
            "lastModifiedDateTime": graph_time(self.received_at),
            "receivedDateTime": graph_time(self.received_at),
            "sentDateTime": graph_time(self.received_at),
            "hasAttachments": bool(self.attachments),
            "internetMessageId": self.internet_message_id,
            "subject": self.subject,
            "bodyPreview": self.body[:255],
            "conversationId": self.conversation_id,
            "isDraft": self.is_draft,
            "isRead": False,
            "parentFolderId": self.folder,
            "body": {"contentType": self.body_type, "content": self.body},
            "sender": sender,
            "from": sender,
            "toRecipients": _recipients(self.to),
            "ccRecipients": _recipients(self.cc),
            "bccRecipients": [],
            "replyTo": [],
        }


@dataclass(frozen=True)
class RecordedSend:
    """A message the fake sent (``sendMail``, or ``send`` of a draft)."""

    mailbox: str
    via: str
    """``sendMail`` or ``send`` (a draft, such as one made with ``createReply``)."""
    message: dict[str, Any]
    """The message as sent (Graph's JSON shape)."""
    save_to_sent_items: bool = True
    in_reply_to: str = ""
    """The original's ``internetMessageId`` when the message was made with ``createReply``."""


@dataclass(frozen=True)
class GraphCall:
    """One request the fake answered: for assertions on what a client asked."""

    method: str
    path: str
    query: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenRequest:
    tenant: str
    client_id: str
    granted: bool


@dataclass
class Mailbox:
    address: str
    tenant: str
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    removed: list[tuple[int, FakeMessage]] = field(default_factory=list)
    """(seq of the removal, the message removed): shown in later delta rounds as ``@removed``."""


@dataclass
class DeltaState:
    """A delta round or a finished round's "since": what ``$skiptoken``/``$deltatoken`` mean."""

    mailbox: str
    folder: str
    select: tuple[str, ...]
    after: int
    until: int | None
    offset: int = 0
    gone: bool = False
    received_from: datetime | None = None
    """``$filter=receivedDateTime ge …`` of the round's first request: kept in its links."""


class GraphState:
    """Everything the fake knows; every method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.apps: dict[tuple[str, str], str] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self.tokens: dict[str, tuple[str, datetime]] = {}
        self.token_lifetime = timedelta(hours=1)
        self.token_requests: list[TokenRequest] = []
        self.deltas: dict[str, DeltaState] = {}
        self.calls: list[GraphCall] = []
        self.sent: list[RecordedSend] = []
        self.throttle_left = 0
        self.throttle_retry_after = 1
        self.throttle_status = 429
        self.attachment_contents_served = 0
        self._seq = 0

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    @property
    def seq(self) -> int:
        with self.lock:
            return self._seq

    def new_id(self) -> str:
        """An opaque id shaped like Exchange's (base64url of random bytes, ``AAMk`` first)."""
        return "AAMk" + base64.urlsafe_b64encode(secrets.token_bytes(30)).decode().rstrip("=")

    def issue_token(self, tenant: str) -> str:
        with self.lock:
            token = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(24)
            self.tokens[token] = (tenant, datetime.now(UTC) + self.token_lifetime)
            return token

    def token_tenant(self, token: str | None) -> str | None:
        with self.lock:
            found = self.tokens.get(token or "")
            if found is None or found[1] <= datetime.now(UTC):
                return None
            return found[0]

    def save_delta(self, state: DeltaState) -> str:
        with self.lock:
            token = secrets.token_urlsafe(18)
            self.deltas[token] = state
            return token

    def delta_entries(self, state: DeltaState, until: int) -> list[dict[str, Any]]:
        """What changed in the folder in ``(after, until]``: messages added (newest first, as
        a reader must not rely on the order) and ``@removed`` for ones it may have seen."""
        with self.lock:
            box = self.mailboxes[state.mailbox]
            added = [
                m
                for m in box.messages.values()
                if m.folder == state.folder
                and state.after < m.seq <= until
                and (state.received_from is None or m.received_at >= state.received_from)
            ]
            added.sort(key=lambda m: (m.received_at, m.seq), reverse=True)
            entries = [_selected(m.to_json(), state.select) for m in added]
            entries += [
                {
                    "@odata.type": "#microsoft.graph.message",
                    "id": m.id,
                    "@removed": {"reason": "deleted"},
                }
                for removed_at, m in box.removed
                if m.folder == state.folder and m.seq <= state.after < removed_at <= until
            ]
            return entries


def _selected(message: dict[str, Any], select: tuple[str, ...]) -> dict[str, Any]:
    """Only what ``$select`` asked for (plus ``id`` and the OData annotations), as Graph does."""
    if not select:
        return message
    return {k: v for k, v in message.items() if k in select or k == "id" or k.startswith("@")}
