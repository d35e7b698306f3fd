"""An :class:`OutgoingMail` as the RFC 5322 message a server receives.

One function, shared by the IMAP drafts (``imap.py``) and SMTP sending (``smtp.py``), so a
draft the operator reviewed in their mail client is byte for byte the message later sent, and
the headers that keep a reply in its thread (``In-Reply-To``, ``References``) are written once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from mcos.mail.message import OutgoingMail


def new_message_id(sender: str) -> str:
    """A fresh ``Message-ID`` in the sender's domain, angle brackets included."""
    domain = sender.rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def render(
    mail: OutgoingMail, message_id: str | None = None, *, date: datetime | None = None
) -> EmailMessage:
    """The message for ``mail``; ``message_id`` defaults to a new one in the sender's domain.

    Raises ``ValueError`` naming the field when a header would hold a line break (a header
    injection attempt, or a bad draft): nothing is silently rewritten.
    """
    for name, value in (("sender", mail.sender), ("subject", mail.subject)):
        _one_line(name, value)
    for name, values in (("to", mail.to), ("cc", mail.cc), ("references", mail.references)):
        for value in values:
            _one_line(name, value)
    _one_line("in_reply_to", mail.in_reply_to)
    if not mail.to:
        raise ValueError("to: the message has no recipient; give at least one address in to")
    message = EmailMessage(policy=SMTP)
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id or new_message_id(mail.sender)
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    references = mail.references or ((mail.in_reply_to,) if mail.in_reply_to else ())
    if references:
        message["References"] = " ".join(references)
    message.set_content(mail.body)
    return message


def _one_line(field: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{field}: {value[:60]!r} holds a line break; a header is one line")
