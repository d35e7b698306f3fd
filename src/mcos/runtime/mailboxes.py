"""One agent's mailboxes on its runner: read on a schedule, drafts saved, mail sent.

The cursor lives in the control plane, beside the messages it covers: each sync starts from the
cursor stored there and reports every batch with the cursor after it, in one write. A runner
killed anywhere in a sync starts again from the last stored batch; the control plane recognises
what it already has, so no message is lost or processed twice. A mailbox that cannot be read
(a missing secret, a refused login, a server down) is reported to the control plane, which
shows it on the agent's card, and the agent goes on: a mailbox never crashes its agent.

Secrets are read from the runner's environment by the variable the fleet file names, when the
mailbox is opened, and never leave this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mcos.client import ApiError, Unreachable
from mcos.contract import paths
from mcos.fleet.mail import ImapAccount, M365Account
from mcos.fleet.schema import Agent, Fleet
from mcos.mail.message import MailboxError, MailSender, MailSource, OutgoingMail
from mcos.mail.settings import MailSettings
from mcos.runtime.client import AgentLink

log = logging.getLogger("mcos.runtime.mail")

Account = ImapAccount | M365Account
BATCH = 25
"""Messages read and reported at a time: a batch stays well under the API's body limit."""
MAX_BATCHES = 400
"""Batches in one sync (10,000 messages); a bigger backlog goes on at the next sync."""


def secret_of(account: Account, env: Mapping[str, str]) -> str:
    variable = account.password_env if account.kind == "imap" else account.client_secret_env
    what = "password" if account.kind == "imap" else "client secret"
    value = env.get(variable, "")
    if not value:
        raise MailboxError(
            "config",
            f"mail account {account.name!r}: {variable} is not set in the runner's "
            f"environment; set it to the account's {what} and restart `mcos run`",
        )
    return value


def open_source(account: Account, env: Mapping[str, str]) -> MailSource:
    """The reader for an account, built with its secret from ``env``."""
    secret = secret_of(account, env)
    if account.kind == "imap":
        from mcos.mail.imap import ImapSource

        return ImapSource(account, secret, ssl_context=MailSettings().ssl_context())
    from mcos.mail.graph import GraphSource

    return GraphSource.from_settings(account, env, MailSettings())


def open_sender(account: Account, env: Mapping[str, str]) -> MailSender:
    secret = secret_of(account, env)
    if account.kind == "imap":
        from mcos.mail.smtp import SmtpSender

        return SmtpSender(account, secret, tls_context=MailSettings().ssl_context())
    from mcos.mail.graph import GraphSender

    return GraphSender.from_settings(account, env, MailSettings())


@dataclass
class SyncReport:
    account: str
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    """Read on a first sync, but older than ``[mail] first_sync_days``: not stored."""
    error: str | None = None


def _unwrap(stored: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """The source's cursor and the first read's ``since`` from what the control plane holds."""
    if stored is None:
        return None, None
    if "source" in stored:
        return stored["source"], stored.get("since")
    return stored, None  # a source's own cursor, stored by an earlier version or by hand


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


class Mailboxes:
    def __init__(
        self,
        fleet: Fleet,
        agent: Agent,
        link: AgentLink,
        env: Mapping[str, str] | None = None,
        *,
        sources: Callable[[Account, Mapping[str, str]], MailSource] = open_source,
        senders: Callable[[Account, Mapping[str, str]], MailSender] = open_sender,
    ) -> None:
        self.fleet, self.agent, self.link = fleet, agent, link
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.accounts = fleet.mail.owned_by(agent.name)
        self._sources, self._senders = sources, senders
        self._open: dict[str, MailSource] = {}
        self._sending: dict[str, MailSender] = {}
        self._locks = {a.name: asyncio.Lock() for a in self.accounts}

    def account(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        names = ", ".join(a.name for a in self.accounts) or "none"
        raise MailboxError("config", f"{name!r} is not one of your mail accounts ({names})")

    def _source(self, account: Account) -> MailSource:
        if account.name not in self._open:
            self._open[account.name] = self._sources(account, self.env)
        return self._open[account.name]

    async def _cursor(self, name: str) -> dict[str, Any] | None:
        """Where the account stands, as the control plane stores it: read under the account's
        lock, so a sync that waited for another starts where that one ended."""
        accounts = (await self.link.ask("GET", paths.MAIL_ACCOUNTS))["accounts"]
        for account in accounts:
            if account["name"] == name:
                cursor: dict[str, Any] | None = account["cursor"]
                return cursor
        return None

    def _first_read_from(self) -> str | None:
        days = self.fleet.mail.first_sync_days
        if days == 0:
            return None
        return (datetime.now(UTC) - timedelta(days=days)).isoformat()

    async def sync(self, name: str | None = None) -> list[SyncReport]:
        """Read new mail of every account (or one) now and hand it to the control plane."""
        chosen = [self.account(name)] if name else self.accounts
        return [await self._sync_one(account) for account in chosen]

    async def _sync_one(self, account: Account) -> SyncReport:
        """Batch by batch, each stored with the cursor after it: ``{"source": the source's
        cursor, "since": ...}``. ``since`` is kept until a first read (or a read after a reset)
        is complete, so a runner restarted in the middle of one still skips the old mail."""
        report = SyncReport(account.name)
        async with self._locks[account.name]:
            try:
                stored = await self._cursor(account.name)
                cursor, since = _unwrap(stored)
                if stored is None:
                    since = self._first_read_from()
                source = self._source(account)
                for _ in range(MAX_BATCHES):
                    batch = await source.fetch(cursor, BATCH, since=_instant(since))
                    if batch.reset and since is None:
                        since = self._first_read_from()
                    cutoff = _instant(since)
                    recent = [i for i in batch.items if cutoff is None or i.received_at >= cutoff]
                    body = {
                        "items": [item.as_json() for item in recent],
                        "cursor": {"source": batch.cursor}
                        | ({"since": since} if since is not None and batch.more else {}),
                        "reset": batch.reset,
                    }
                    result = await self.link.ask("POST", paths.mail_sync(account.name), body)
                    report.stored += result["stored"]
                    report.duplicates += result["duplicates"]
                    report.skipped += len(batch.items) - len(recent)
                    cursor = batch.cursor
                    if not batch.more:
                        break
            except MailboxError as exc:
                report.error = f"{exc.kind}: {exc.message}"
                await self._failed(account, exc)
                self._forget(account.name)
            except (Unreachable, ApiError) as exc:
                report.error = f"the control plane did not take the mail: {exc}"
                log.warning("%s: %s", account.name, report.error)
        return report

    async def _failed(self, account: Account, exc: MailboxError) -> None:
        log.warning("mailbox %s cannot be read: %s", account.name, exc.message)
        body = {"kind": exc.kind, "message": exc.message[:2_000]}
        with contextlib.suppress(Unreachable, ApiError):
            await self.link.ask("POST", paths.mail_failed(account.name), body)

    def _forget(self, name: str) -> None:
        """A failed mailbox is opened afresh next time (a fixed secret, a new connection)."""
        source = self._open.pop(name, None)
        if source is not None:
            task = asyncio.ensure_future(source.close())
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def save_draft(self, name: str, mail: OutgoingMail) -> str:
        account = self.account(name)
        return await self._source(account).save_draft(mail)

    async def send(self, name: str, mail: OutgoingMail) -> str:
        """Send ``mail``; over SMTP, also file a copy in the account's sent folder (Graph's
        ``sendMail`` keeps one itself). A copy that cannot be filed is logged: the mail left."""
        account = self.account(name)
        if name not in self._sending:
            self._sending[name] = self._senders(account, self.env)
        sent = await self._sending[name].send(mail)
        if account.kind == "imap":
            from mcos.mail.imap import ImapSource

            source = self._source(account)
            if isinstance(source, ImapSource):
                try:
                    await source.save_sent(mail, sent)
                except MailboxError as exc:
                    log.warning("%s: sent, but no copy was filed: %s", name, exc.message)
        return sent

    async def run(self, stopping: asyncio.Event) -> None:
        """Read every account now, then every ``[mail] sync_every_seconds``, until stopped."""
        every = self.fleet.mail.sync_every_seconds
        while not stopping.is_set():
            try:
                await self.sync()
            except Exception:  # a mailbox never takes its agent down
                log.exception("%s: mail sync failed", self.agent.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every)

    async def close(self) -> None:
        for source in self._open.values():
            with contextlib.suppress(Exception):
                await source.close()
        for sender in self._sending.values():
            with contextlib.suppress(Exception):
                await sender.close()
        self._open.clear()
        self._sending.clear()
