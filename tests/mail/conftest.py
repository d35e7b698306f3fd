"""A real Dovecot per test module, a fresh folder per test, and a real aiosmtpd SMTP server.

Each test reads its own folder of the module's server (a new name per test), so tests share a
server without seeing each other's mail, also under ``pytest -n 2``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mcos.fleet.mail import ImapAccount
from mcos.testing.dovecot import Dovecot, available

USER = "donna"
PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    why_not = available()
    if why_not and sys.platform == "darwin":
        pytest.skip(why_not)
    if why_not:  # on Linux a missing server is a broken setup, not a reason to pass
        pytest.fail(why_not)
    with Dovecot.start({USER: PASSWORD}) as server:
        yield server


@pytest.fixture
def account(dovecot: Dovecot) -> ImapAccount:
    """An account on its own new folder (and drafts folder) of the module's server."""
    tag = uuid.uuid4().hex[:10]
    dovecot.create_folder(USER, f"in-{tag}")
    return ImapAccount(
        kind="imap",
        name="donna-mail",
        owner="donna",
        may=("read", "draft", "send"),
        address="donna@specter.test",
        host=dovecot.host,
        port=dovecot.port,
        tls="none",
        user=USER,
        password_env="DONNA_MAIL_PASSWORD",
        folder=f"in-{tag}",
        drafts_folder=f"drafts-{tag}",
        smtp_tls="none",
    )


def message(
    subject: str,
    *,
    sender: str = "Alice Example <Alice@Example.com>",
    to: str = "donna@specter.test",
    cc: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    text: str | None = "Hello Donna.",
    html: str | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    date: datetime | None = None,
) -> bytes:
    """An RFC 5322 message as a mail client would send it."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    if cc:
        mail["Cc"] = cc
    mail["Subject"] = subject
    if date is not None:
        mail["Date"] = format_datetime(date)
    mail["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.com>"
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = references
    if text is not None:
        mail.set_content(text)
    if html is not None:
        if text is None:
            mail.set_content(html, subtype="html")
        else:
            mail.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return mail.as_bytes()


@dataclass
class Received:
    """What the SMTP server was handed, envelope and bytes."""

    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@contextlib.asynccontextmanager
async def smtp_server(password: str | None = None) -> AsyncIterator[tuple[int, Received]]:
    """A real SMTP server (aiosmtpd) on a free loopback port of the running loop; with
    ``password``, it requires AUTH (over plain text: loopback only) for user ``donna``."""
    received = Received()

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        received.logins.append((data.login, data.password))
        ok = data.login == USER.encode() and data.password == (password or "").encode()
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    def factory() -> SMTP:
        if password is None:
            return SMTP(received, hostname="mx.test")
        return SMTP(
            received,
            hostname="mx.test",
            authenticator=authenticate,
            auth_require_tls=False,
        )

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], received
    finally:
        server.close()
        await server.wait_closed()
