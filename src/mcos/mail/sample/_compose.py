"""Turning a template into RFC 5322 bytes, and bytes back into a :class:`MailItem`.

Building goes through :class:`email.message.EmailMessage`, so the bytes are what a real server
would hold (multipart/alternative, attachments, encoded headers). Reading back is a small
parser for the sample and the benchmark; the IMAP source has its own.
"""

from __future__ import annotations

import email
import email.policy
import html
import random
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr, parsedate_to_datetime

from mcos.mail.message import MAX_TEXT_CHARS, Attachment, MailItem
from mcos.mail.sample._templates import SUPPLIERS, Template
from mcos.mail.text import html_to_text


def text_to_html(text: str) -> str:
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n")
    )
    return f'<html><body style="font-family:Arial">{paragraphs}</body></html>'


def fill(text: str, values: dict[str, str]) -> str:
    return text.format_map(values)


def compose(
    template: Template,
    rng: random.Random,
    values: dict[str, str],
    *,
    to: str,
    sent_at: datetime,
    position: int = 0,
    parent: EmailMessage | None = None,
) -> EmailMessage:
    """One message of ``template`` (``position`` > 0: a follow-up in its thread to ``parent``)."""
    supplier, stem = rng.choice(SUPPLIERS)
    values = {**values, "supplier": supplier, "s": stem}
    name, address = (fill(part, values) for part in rng.choice(template.senders))
    message = EmailMessage()
    message["From"] = Address(display_name=name, addr_spec=address)
    message["To"] = to
    if parent is None:
        subject = fill(rng.choice(template.subjects), values)
    else:
        subject = "Re: " + str(parent["Subject"]).removeprefix("Re: ")
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    domain = address.rpartition("@")[2]
    message["Message-ID"] = f"<{rng.getrandbits(64):016x}.{position}@{domain}>"
    if parent is not None:
        references = [*str(parent.get("References", "")).split(), str(parent["Message-ID"])]
        message["In-Reply-To"] = str(parent["Message-ID"])
        message["References"] = " ".join(references)
    if position and template.replies:
        body = fill(template.replies[(position - 1) % len(template.replies)], values)
    else:
        body = fill(rng.choice(template.bodies), values)
    is_markup = body.lstrip().startswith("<html")
    if template.html == "only" or is_markup:
        message.set_content(body if is_markup else text_to_html(body), subtype="html")
    elif template.html == "both":
        message.set_content(body)
        message.add_alternative(text_to_html(body), subtype="html")
    else:
        message.set_content(body)
    for filename, content_type in template.attachments:
        maintype, subtype = content_type.split("/", 1)
        payload = b"%sample " + rng.randbytes(rng.randrange(400, 3000))
        message.add_attachment(
            payload, maintype=maintype, subtype=subtype, filename=fill(filename, values)
        )
    for part in message.walk():
        if part.is_multipart():  # the generator would draw a boundary from the global RNG
            part.set_boundary(f"=_sample_{rng.getrandbits(64):016x}")
    return message


def parse_item(raw: bytes, key: str) -> MailItem:
    """A :class:`MailItem` from RFC 5322 bytes: the plain body, else the HTML as text."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    name, sender = parseaddr(str(message.get("From", "")))
    message_id = str(message.get("Message-ID", "")).strip()
    in_reply_to = str(message.get("In-Reply-To", "")).strip()
    references = str(message.get("References", "")).split()
    thread = references[0] if references else in_reply_to or message_id
    try:
        received = parsedate_to_datetime(str(message["Date"])).astimezone(UTC)
    except (TypeError, ValueError):
        received = datetime.now(UTC)
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if isinstance(body, EmailMessage):
        content = body.get_content()
        text = html_to_text(content) if body.get_content_subtype() == "html" else content
    attachments = tuple(
        Attachment(
            filename=part.get_filename() or "",
            content_type=part.get_content_type(),
            size=len(part.get_payload(decode=True) or b""),
        )
        for part in message.iter_attachments()
    )
    return MailItem(
        key=key,
        message_id=message_id,
        thread=thread,
        sender=sender.lower(),
        sender_name=name,
        to=tuple(a for _, a in getaddresses([str(v) for v in message.get_all("To", [])])),
        cc=tuple(a for _, a in getaddresses([str(v) for v in message.get_all("Cc", [])])),
        subject=str(message.get("Subject", "")),
        received_at=received,
        text=text.strip()[:MAX_TEXT_CHARS],
        attachments=attachments,
        in_reply_to=in_reply_to,
    )
