"""Graph's message JSON → :class:`MailItem` (HTML bodies made text by :mod:`mcos.mail.text`,
as for IMAP)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mcos.mail.message import MAX_ATTACHMENTS, Attachment, MailItem
from mcos.mail.text import clip_text, html_to_text


def body_text(body: dict[str, Any] | None) -> str:
    """The plain text of a Graph ``itemBody`` (``contentType`` ``text`` or ``html``)."""
    if not body:
        return ""
    content = str(body.get("content") or "")
    if str(body.get("contentType", "")).lower() == "html":
        content = html_to_text(content)
    return clip_text(content.replace("\r\n", "\n").strip())


def _address(recipient: dict[str, Any] | None) -> tuple[str, str]:
    email = (recipient or {}).get("emailAddress") or {}
    return str(email.get("address") or "").lower(), str(email.get("name") or "")


def _addresses(recipients: list[dict[str, Any]] | None) -> tuple[str, ...]:
    found = (_address(r)[0] for r in recipients or [])
    return tuple(address for address in found if address)


def received_at(value: str | None) -> datetime:
    """Graph's ``receivedDateTime`` (ISO 8601, UTC, ``Z``) as an aware datetime."""
    if not value:
        return datetime.fromtimestamp(0, UTC)
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def mail_item(message: dict[str, Any], attachments: list[dict[str, Any]]) -> MailItem:
    """One delta entry (and its attachment listing) as a :class:`MailItem`."""
    sender, sender_name = _address(message.get("from") or message.get("sender"))
    return MailItem(
        key=str(message["id"]),
        message_id=str(message.get("internetMessageId") or ""),
        thread=str(message.get("conversationId") or message["id"]),
        sender=sender,
        sender_name=sender_name,
        to=_addresses(message.get("toRecipients")),
        cc=_addresses(message.get("ccRecipients")),
        subject=str(message.get("subject") or ""),
        received_at=received_at(message.get("receivedDateTime")),
        text=body_text(message.get("body")),
        attachments=tuple(
            Attachment(
                filename=str(a.get("name") or ""),
                content_type=str(a.get("contentType") or "application/octet-stream"),
                size=int(a.get("size") or 0),
            )
            for a in attachments[:MAX_ATTACHMENTS]
        ),
    )
