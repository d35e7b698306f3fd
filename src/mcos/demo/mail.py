"""The demo's mailboxes: a private Dovecot holding a day of the sample mailbox, read for real.

``mcos demo`` starts Debian's Dovecot as its own child process on a free loopback port, with a
throwaway configuration and fresh random passwords (nothing of the machine's own mail service
is touched), puts one working day of the labelled sample mailbox in Donna's five accounts, and
writes them into the demo's fleet file between two marker lines, rewritten at every start (the
port changes). Donna's runner then reads them through the real IMAP code, the control plane's
rules classify them, and the demo's scripted model does the rest. Mail sent after an approval
goes to a local SMTP sink that keeps each message as a file: nothing leaves the machine.

Where no Dovecot can run (macOS, or it is not installed) the demo says why and plays the
scripted digest, labelled as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from mcos.mail.sample import ACCOUNTS, SampleMail, messages
from mcos.testing.dovecot import Dovecot, available

BEGIN = "# ---- demo mailboxes: written by `mcos demo` at every start (the port changes) ----"
END = "# ---- end of the demo mailboxes ----"
DAY = 0
"""Which working day of the sample week the demo's inbox holds (Monday: about 50 mails)."""


def variable(account: str) -> str:
    return "MCOS_DEMO_MAIL_" + account.upper().replace("-", "_")


def one_day(day: int = DAY) -> list[SampleMail]:
    mails = messages()
    days = sorted({m.item().received_at.date() for m in mails})
    chosen = days[day % len(days)]
    return [m for m in mails if m.item().received_at.date() == chosen]


def arriving_today(raw: bytes) -> bytes:
    """The sample's message dated today at its own time of day (the sample week is past, and
    a first sync reads only recent mail)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    sent = message["Date"].datetime if message["Date"] is not None else None
    if sent is None:
        return raw
    today = datetime.now(sent.tzinfo).date()
    del message["Date"]
    message["Date"] = format_datetime(
        sent.replace(year=today.year, month=today.month, day=today.day)
    )
    return message.as_bytes()


def accounts_block(host: str, port: int, smtp_port: int) -> str:
    """The five sample accounts as IMAP accounts of the demo's server, for the fleet file."""
    lines = [BEGIN]
    for account in ACCOUNTS:
        note = (
            "  # a Microsoft 365 tenant in the seed; served over IMAP in the demo"
            if account.kind == "m365"
            else ""
        )
        lines += [
            "[[mail.accounts]]" + note,
            f'name = "{account.name}"',
            'kind = "imap"',
            'owner = "donna"',
            'may = ["read", "draft", "send"]',
            f'address = "{account.address}"',
            f'description = "{account.company} (demo)"',
            f'host = "{host}"',
            f"port = {port}",
            'tls = "none"                # loopback only: the demo\'s own server',
            f'user = "{account.name}"',
            f'password_env = "{variable(account.name)}"',
            f"smtp_port = {smtp_port}",
            'smtp_tls = "none"',
            "",
        ]
    lines.append(END)
    return "\n".join(lines) + "\n"


def with_accounts(text: str, block: str | None) -> str:
    """The fleet file's text with its demo mailboxes replaced by ``block`` (or removed)."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.DOTALL)
    text = pattern.sub("", text).rstrip("\n") + "\n"
    return text if block is None else text + "\n" + block


@dataclass
class SentMail:
    """The demo's outgoing mail server: an SMTP sink keeping each message as a file."""

    folder: Path
    count: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        raw: bytes = envelope.original_content or b""
        (self.folder / f"{self.count:04d}.eml").write_bytes(raw)
        return "250 kept by the demo (nothing leaves this machine)"


@dataclass
class DemoMail:
    """What the demo's mail is: a running server and its passwords, or why there is none."""

    server: Dovecot | None = None
    why_not: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    delivered: int = 0
    smtp_port: int = 0
    sent: SentMail | None = None
    _smtp: Any = None

    @property
    def running(self) -> bool:
        return self.server is not None

    def block(self) -> str | None:
        if self.server is None:
            return None
        return accounts_block(self.server.host, self.server.port, self.smtp_port)

    async def start_sink(self) -> None:
        """The SMTP sink on a free loopback port of the running loop (after the approval)."""
        from aiosmtpd.smtp import SMTP

        assert self.sent is not None
        loop = asyncio.get_running_loop()
        sink = self.sent

        def factory() -> SMTP:
            return SMTP(
                sink,
                hostname="demo.mcos",
                authenticator=lambda *args: _accept(),
                auth_require_tls=False,
            )

        self._smtp = await loop.create_server(factory, "127.0.0.1", self.smtp_port)

    def stop_sink(self) -> None:
        """Close the sink (on the loop it was started on)."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def _accept() -> Any:
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def demo_mail(directory: Path) -> Iterator[DemoMail]:
    """A Dovecot with one day of the sample mailbox in Donna's five accounts, or why not."""
    why_not = available()
    if why_not is not None:
        yield DemoMail(why_not=why_not)
        return
    passwords = {a.name: secrets.token_urlsafe(16) for a in ACCOUNTS}
    server = Dovecot.start(passwords)
    mail = DemoMail(
        server,
        env={variable(name): pw for name, pw in passwords.items()},
        smtp_port=_free_port(),
        sent=SentMail(directory / "sent-mail"),
    )
    try:
        for sample in one_day():
            server.deliver(sample.account, arriving_today(sample.raw))
            mail.delivered += 1
        yield mail
    finally:
        mail.stop()
