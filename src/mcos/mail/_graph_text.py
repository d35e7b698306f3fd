"""Graph's message JSON → :class:`MailItem`, and HTML bodies → readable plain text.

The HTML is turned into text with the standard library's parser: no dependency, nothing run,
no image or stylesheet fetched. Links keep their target beside their text, because a model
asked to triage mail needs to see where a "click here" leads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from mcos.mail.message import MAX_ATTACHMENTS, MAX_TEXT_CHARS, Attachment, MailItem

CUT_NOTE = "\n[… the rest of this message was cut]"
"""Ends a body cut at :data:`MAX_TEXT_CHARS`, so a reader knows there was more."""

_BLOCK = frozenset(
    "address article aside blockquote div dl dt dd fieldset figure footer form h1 h2 h3 h4 h5 "
    "h6 header hr li main nav ol p pre section table tr ul".split()
)
_HIDDEN = frozenset({"head", "script", "style", "title", "template", "noscript"})


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._pre = 0
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "pre":
            self._pre += 1
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in _BLOCK or tag == "td":
            self.parts.append("\n" if tag != "td" else " ")
        if tag == "a":
            self._links.append(dict(attrs).get("href"))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._hidden:
                self.parts.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
            self.parts.append("\n")
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href and href.startswith(("http://", "https://", "mailto:")) and not self._hidden:
                self.parts.append(f" ({href.removeprefix('mailto:')})")
        elif tag in _BLOCK and tag != "li":  # an item's start already began its line
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: paragraphs and line breaks kept, markup dropped."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).replace("\xa0", " ").split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def cut_text(text: str) -> str:
    """``text`` at most :data:`MAX_TEXT_CHARS` long, saying so when it was cut."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[: MAX_TEXT_CHARS - len(CUT_NOTE)] + CUT_NOTE


def body_text(body: dict[str, Any] | None) -> str:
    """The plain text of a Graph ``itemBody`` (``contentType`` ``text`` or ``html``)."""
    if not body:
        return ""
    content = str(body.get("content") or "")
    if str(body.get("contentType", "")).lower() == "html":
        content = html_to_text(content)
    return cut_text(content.replace("\r\n", "\n").strip())


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
