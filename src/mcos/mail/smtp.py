"""Sending one approved :class:`OutgoingMail` through the account's SMTP server.

What is sent is exactly :func:`mcos.mail.render.render` of the mail (the text an approval
froze), to exactly ``mail.recipients()``: the envelope is never taken from headers, and there
is no Bcc. The SMTP transaction is all or nothing: every recipient is offered before the
message, and if the server refuses any one of them the transaction is reset and nobody gets
it, so a partial send never needs explaining.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiosmtplib
from aiosmtplib.errors import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from mcos.fleet.mail import ImapAccount
from mcos.mail.message import MailboxError, OutgoingMail
from mcos.mail.render import new_message_id, render
from mcos.tls import trust_context


class SmtpSender:
    """A :class:`~mcos.mail.message.MailSender` for one ``kind = "imap"`` account."""

    def __init__(
        self,
        account: ImapAccount,
        password: str,
        *,
        timeout: float = 30,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._account = account
        self._password = password
        self._timeout = timeout
        self._tls_context = tls_context

    @property
    def _host(self) -> str:
        return self._account.smtp_host or self._account.host

    async def close(self) -> None:
        """Nothing stays open: each send has its own connection."""

    async def send(self, mail: OutgoingMail) -> str:
        """Send ``mail``; returns its ``Message-ID``. Raises :class:`MailboxError`."""
        message_id = new_message_id(mail.sender)
        try:
            message = render(mail, message_id)
        except ValueError as exc:
            raise MailboxError("protocol", f"the message cannot be written: {exc}") from exc
        deadline = self._timeout * 4  # each SMTP step has ``timeout``; this bounds them all
        try:
            await asyncio.wait_for(self._send(mail, message.as_bytes()), deadline)
        except TimeoutError as exc:
            raise MailboxError(
                "network", f"{self._where()}: sending did not finish within {deadline:g} s"
            ) from exc
        return message_id

    async def _send(self, mail: OutgoingMail, raw: bytes) -> None:
        account = self._account
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=account.smtp_port,
            username=account.user,
            password=self._password,
            timeout=self._timeout,
            use_tls=account.smtp_tls == "ssl",
            start_tls=account.smtp_tls == "starttls",
            tls_context=self._tls_context
            or (trust_context() if account.smtp_tls != "none" else None),
        )
        try:
            await client.connect()
        except SMTPAuthenticationError as exc:
            raise MailboxError(
                "auth",
                f"{self._where()} refused the login of user {account.user!r} "
                f"({exc.code} {exc.message}); check the password in ${account.password_env} "
                "and the account's user",
            ) from exc
        except (SMTPException, OSError) as exc:
            raise self._error(exc) from exc
        try:
            await self._transaction(client, mail, raw)
        except MailboxError:
            raise
        except (SMTPException, OSError) as exc:
            raise self._error(exc) from exc
        finally:
            try:
                await client.quit()
            except (SMTPException, OSError):
                client.close()  # the message is accepted or refused already

    async def _transaction(self, client: aiosmtplib.SMTP, mail: OutgoingMail, raw: bytes) -> None:
        addresses = (mail.sender, *mail.recipients())
        utf8 = not all(address.isascii() for address in addresses)
        if utf8 and not client.supports_extension("smtputf8"):
            raise MailboxError(
                "protocol",
                f"{self._where()} does not accept non-ASCII addresses (no SMTPUTF8); "
                "write the addresses in ASCII",
            )
        await client.mail(mail.sender, options=["SMTPUTF8"] if utf8 else None)
        refused: list[str] = []
        for recipient in mail.recipients():
            try:
                await client.rcpt(recipient)
            except SMTPRecipientRefused as exc:
                refused.append(f"{recipient} ({exc.code} {exc.message})")
        if refused:
            await client.rset()
            raise MailboxError(
                "protocol",
                f"{self._where()} refused {', '.join(refused)}; nothing was sent to anyone",
            )
        await client.data(raw)

    def _where(self) -> str:
        return f"account {self._account.name!r}: SMTP {self._host}:{self._account.smtp_port}"

    def _error(self, exc: BaseException) -> MailboxError:
        where = self._where()
        if isinstance(exc, ssl.SSLError):
            return MailboxError(
                "network",
                f"{where}: the TLS handshake failed ({exc}); check smtp_tls "
                f"({self._account.smtp_tls!r}) and the server's certificate",
            )
        if isinstance(exc, socket.gaierror):
            return MailboxError("network", f"{where}: the host name does not resolve ({exc})")
        if isinstance(exc, SMTPTimeoutError | TimeoutError):
            return MailboxError("network", f"{where}: no answer within {self._timeout:g} s")
        if isinstance(exc, SMTPConnectError | SMTPServerDisconnected | OSError):
            return MailboxError("network", f"{where}: the connection failed ({exc})")
        if isinstance(exc, SMTPResponseException):
            return MailboxError(
                "protocol", f"{where}: the server answered {exc.code} {exc.message}"
            )
        return MailboxError("protocol", f"{where}: {exc}")
