"""SmtpSender against a real SMTP server (aiosmtpd): exactly the message, exactly the people."""

from __future__ import annotations

import asyncio
import email
from email.message import Message
from email.policy import default

import pytest

from mcos.fleet.mail import ImapAccount
from mcos.mail.message import MailboxError, OutgoingMail
from mcos.mail.smtp import SmtpSender
from tests.fixtures.server import free_port
from tests.mail.conftest import PASSWORD, USER, smtp_server

MAIL = OutgoingMail(
    sender="donna@specter.test",
    to=("alice@example.com", "bob@example.com"),
    cc=("jarvis@specter.test",),
    subject="Re: Offer — accepted",
    body="Dear Alice,\n\n.We accept the offer.\n.\nDonna\n",
    in_reply_to="<a@example.com>",
    references=("<root@example.com>", "<a@example.com>"),
)


def smtp_account(port: int) -> ImapAccount:
    return ImapAccount(
        kind="imap",
        name="donna-mail",
        owner="donna",
        may=("read", "send"),
        address="donna@specter.test",
        host="127.0.0.1",
        tls="none",
        user=USER,
        password_env="DONNA_MAIL_PASSWORD",
        smtp_port=port,
        smtp_tls="none",
    )


def test_sends_exactly_the_message_to_exactly_the_recipients() -> None:
    async def scenario() -> tuple[str, list[tuple[str, list[str], Message]], int]:
        async with smtp_server(password=PASSWORD) as (port, received):
            sender = SmtpSender(smtp_account(port), PASSWORD, timeout=10)
            message_id = await sender.send(MAIL)
            got = [
                (
                    e.mail_from or "",
                    list(e.rcpt_tos),
                    email.message_from_bytes(e.original_content or b"", policy=default),
                )
                for e in received.envelopes
            ]
            return message_id, got, len(received.logins)

    message_id, [(mail_from, rcpt_tos, sent)], logins = asyncio.run(scenario())
    assert logins == 1, "the account's user logged in"
    assert mail_from == "donna@specter.test"
    assert rcpt_tos == ["alice@example.com", "bob@example.com", "jarvis@specter.test"]
    assert sent["Message-ID"] == message_id and message_id.endswith("@specter.test>")
    assert sent["From"] == "donna@specter.test"
    assert sent["To"] == "alice@example.com, bob@example.com"
    assert sent["Cc"] == "jarvis@specter.test"
    assert sent["Bcc"] is None
    assert sent["Subject"] == "Re: Offer — accepted"
    assert sent["In-Reply-To"] == "<a@example.com>"
    assert sent["References"] == "<root@example.com> <a@example.com>"
    body = sent.get_content().replace("\r\n", "\n")
    assert body == MAIL.body, "the body arrives as approved, dots and all"


def test_a_refused_recipient_sends_nothing_to_anyone() -> None:
    mail = OutgoingMail(
        sender="donna@specter.test",
        to=("alice@example.com", "nobody@example.com"),
        subject="Hello",
        body="x",
    )

    async def scenario() -> tuple[MailboxError, int]:
        async with smtp_server(password=PASSWORD) as (port, received):
            with pytest.raises(MailboxError) as caught:
                await SmtpSender(smtp_account(port), PASSWORD, timeout=10).send(mail)
            return caught.value, len(received.envelopes)

    error, delivered = asyncio.run(scenario())
    assert delivered == 0, "a partial send would reach alice alone"
    assert error.kind == "protocol" and "nobody@example.com (550" in error.message


def test_a_wrong_password_is_an_auth_error() -> None:
    async def scenario() -> tuple[MailboxError, int]:
        async with smtp_server(password=PASSWORD) as (port, received):
            with pytest.raises(MailboxError) as caught:
                await SmtpSender(smtp_account(port), "wrong secret", timeout=10).send(MAIL)
            return caught.value, len(received.envelopes)

    error, delivered = asyncio.run(scenario())
    assert error.kind == "auth" and delivered == 0
    assert "$DONNA_MAIL_PASSWORD" in error.message and "wrong secret" not in error.message


def test_a_closed_port_is_a_network_error() -> None:
    sender = SmtpSender(smtp_account(free_port()), PASSWORD, timeout=5)
    with pytest.raises(MailboxError) as caught:
        asyncio.run(sender.send(MAIL))
    assert caught.value.kind == "network"
