"""Microsoft 365 mailboxes through Microsoft Graph, with an app-only (client-credentials) token.

:class:`GraphSource` reads one folder incrementally with a delta query: the cursor is
``{"delta_link": URL}``, the link Graph gave for "what changed since" (or, when a read stopped
at ``limit``, the next page of the round in progress). Saved with the items and given back after
a restart, it continues exactly where the last stored batch ended. Message ids are requested
immutable (``Prefer: IdType="ImmutableId"``) so a key survives the message being moved.

What Graph's delta query means for a reader:

- An entry comes again when a message *changes* (read, flagged, categorised) with the same id:
  the key is unchanged, and the store keeps the first copy.
- Deleted messages come as ``@removed`` entries: skipped (mail read stays read).
- An expired delta link answers 410 Gone (``syncStateNotFound``): the read starts over from an
  empty state and says ``reset=True``; items already stored are recognised by their key.
- Attachments are listed (name, type, size) from the attachments endpoint, never downloaded.

:class:`GraphSender` sends with ``sendMail`` exactly the recipients, subject and text body
given. Graph does not let a client set ``In-Reply-To`` or ``References`` (only ``X-`` headers in
``internetMessageHeaders``); it threads a reply itself when the reply is made from the original
with ``createReply``. So a reply (``in_reply_to`` set) is created from the original found by its
``internetMessageId``, its recipients, subject and body then set to exactly those given, and sent.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import quote, urlsplit

from mcos.fleet.mail import M365Account
from mcos.mail._graph_http import (
    DEFAULT_GRAPH_URL,
    DEFAULT_LOGIN_URL,
    GraphConnection,
    SyncStateGone,
)
from mcos.mail._graph_text import mail_item, received_at
from mcos.mail.message import MAX_ATTACHMENTS, MailboxError, OutgoingMail, SyncBatch
from mcos.mail.settings import MailSettings

__all__ = ["DEFAULT_GRAPH_URL", "DEFAULT_LOGIN_URL", "GraphSender", "GraphSource"]

log = logging.getLogger("mcos.mail.graph")

MESSAGE_FIELDS = (
    "id,internetMessageId,conversationId,from,sender,toRecipients,ccRecipients,subject,"
    "receivedDateTime,body,hasAttachments"
)
"""What a delta round asks for (``$select``): the fields a :class:`MailItem` needs, no more."""
MAX_PAGE = 100
"""The most messages asked for in one delta page (``Prefer: odata.maxpagesize``)."""
IMMUTABLE_IDS = 'IdType="ImmutableId"'


def _secret_from(account: M365Account, env: Mapping[str, str]) -> str:
    secret = env.get(account.client_secret_env, "")
    if not secret:
        raise MailboxError(
            "config",
            f"mail account {account.name!r}: environment variable {account.client_secret_env} "
            f"is not set; export it with a client secret of app {account.client_id} "
            f"(tenant {account.tenant}) on {account.owner}'s machine",
        )
    return secret


class _GraphMailbox:
    """What the source and the sender share: one connection, the mailbox's paths, drafts."""

    def __init__(
        self,
        account: M365Account,
        client_secret: str,
        *,
        login_url: str = DEFAULT_LOGIN_URL,
        graph_url: str = DEFAULT_GRAPH_URL,
        verify: ssl.SSLContext | str | bool = True,
        timeout: float = 30.0,
        max_retry_wait: float = 60.0,
    ) -> None:
        self.account = account
        self._graph = GraphConnection(
            account,
            client_secret,
            login_url=login_url,
            graph_url=graph_url,
            verify=verify,
            timeout=timeout,
            max_retry_wait=max_retry_wait,
        )
        self._user = f"/users/{quote(account.mailbox, safe='@.')}"

    @classmethod
    def from_settings(
        cls, account: M365Account, env: Mapping[str, str], settings: MailSettings
    ) -> Self:
        """Built the way the runner builds it: the secret from ``env``, URLs and TLS trust
        from ``MCOS_M365_LOGIN_URL``, ``MCOS_GRAPH_URL`` and ``MCOS_MAIL_CA_FILE``."""
        return cls(
            account,
            _secret_from(account, env),
            login_url=settings.m365_login_url,
            graph_url=settings.graph_url,
            verify=settings.ssl_context(),
        )

    async def close(self) -> None:
        await self._graph.close()

    def _message_json(self, mail: OutgoingMail) -> dict[str, Any]:
        def recipients(addresses: tuple[str, ...]) -> list[dict[str, Any]]:
            return [{"emailAddress": {"address": a}} for a in addresses]

        return {
            "subject": mail.subject,
            "body": {"contentType": "Text", "content": mail.body},
            "toRecipients": recipients(mail.to),
            "ccRecipients": recipients(mail.cc),
        }

    def _check_sender(self, mail: OutgoingMail) -> None:
        mine = {self.account.address.lower(), self.account.mailbox.lower()}
        if mail.sender.lower() not in mine:
            raise MailboxError(
                "config",
                f"mail account {self.account.name!r} sends as {self.account.mailbox}, not as "
                f"{mail.sender}",
            )

    async def _original_id(self, internet_message_id: str) -> str:
        """The Graph id of the message with this ``Message-ID`` in the mailbox."""
        escaped = internet_message_id.replace("'", "''")
        response = await self._graph.request(
            "GET",
            f"{self._user}/messages",
            params={
                "$filter": f"internetMessageId eq '{escaped}'",
                "$select": "id",
                "$top": "1",
            },
            headers={"Prefer": IMMUTABLE_IDS},
        )
        found = response.json().get("value") or []
        if not found:
            raise MailboxError(
                "protocol",
                f"mail account {self.account.name!r}: the message replied to, "
                f"{internet_message_id}, is not in {self.account.mailbox}; Graph threads a "
                "reply only from the original, so it was not written",
            )
        return str(found[0]["id"])

    async def _write_draft(self, mail: OutgoingMail) -> dict[str, Any]:
        """A draft holding exactly ``mail``; a reply is made from its original (``createReply``,
        which sets ``In-Reply-To``, ``References`` and the conversation), then set to exactly
        the recipients, subject and body given (replacing the quoted original)."""
        self._check_sender(mail)
        if not mail.in_reply_to:
            response = await self._graph.request(
                "POST",
                f"{self._user}/messages",
                json=self._message_json(mail),
                headers={"Prefer": IMMUTABLE_IDS},
            )
            draft: dict[str, Any] = response.json()
            return draft
        original = await self._original_id(mail.in_reply_to)
        created = await self._graph.request(
            "POST",
            f"{self._user}/messages/{quote(original, safe='')}/createReply",
            json={},
            headers={"Prefer": IMMUTABLE_IDS},
        )
        draft_id = str(created.json()["id"])
        updated = await self._graph.request(
            "PATCH",
            f"{self._user}/messages/{quote(draft_id, safe='')}",
            json=self._message_json(mail),
            headers={"Prefer": IMMUTABLE_IDS},
        )
        patched: dict[str, Any] = updated.json()
        return patched

    async def save_draft(self, mail: OutgoingMail) -> str:
        """Save ``mail`` to the mailbox's Drafts; returns the draft's immutable Graph id."""
        return str((await self._write_draft(mail))["id"])


class GraphSource(_GraphMailbox):
    """Reads an M365 account's folder incrementally (a :class:`~mcos.mail.message.MailSource`).

    ``login_url`` and ``graph_url`` point elsewhere for a test server or a national cloud;
    ``verify`` is the TLS trust (an ``SSLContext``, ``True`` for the system's CAs, or the path of
    a CA file trusted besides them). Every request times out after ``timeout`` seconds; throttling
    is waited out for at most ``max_retry_wait`` seconds a time.
    """

    _since: datetime | None = None
    """Where a new delta round starts (the fetch's ``since``)."""

    async def fetch(
        self, cursor: dict[str, Any] | None, limit: int, *, since: datetime | None = None
    ) -> SyncBatch:
        """New messages after ``cursor``, oldest first, at most ``limit``; ``more`` when the
        round has more pages. A new round from ``since`` asks Graph for mail received from
        then on (``$filter`` on ``receivedDateTime``). Raises :class:`MailboxError`."""
        limit = max(1, limit)
        self._since = since
        link = self._resume_link(cursor)
        reset = cursor is not None and link is None
        entries: list[dict[str, Any]] = []
        while True:
            try:
                page = await self._page(link, min(limit - len(entries), MAX_PAGE))
            except SyncStateGone as gone:
                if link is None:
                    raise MailboxError("protocol", str(gone)) from gone
                log.warning("%s; reading mail account %r anew", gone, self.account.name)
                reset, link, entries = True, None, []
                continue
            entries += [e for e in page.get("value") or [] if "@removed" not in e and "id" in e]
            next_link, delta_link = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
            if isinstance(next_link, str) and next_link:
                if len(entries) >= limit:
                    return await self._batch(entries, next_link, more=True, reset=reset)
                link = self._own_link(next_link)
                continue
            if isinstance(delta_link, str) and delta_link:
                return await self._batch(entries, self._own_link(delta_link), False, reset)
            raise MailboxError(
                "protocol",
                f"mail account {self.account.name!r}: a delta page had neither "
                "@odata.nextLink nor @odata.deltaLink",
            )

    def _own_link(self, link: str) -> str:
        """A link Graph gave must lead back to Graph: the bearer token goes with it."""
        if urlsplit(link)[:2] != urlsplit(self._graph.graph_url)[:2]:
            raise MailboxError(
                "protocol",
                f"mail account {self.account.name!r}: Graph gave a link to another server "
                f"({urlsplit(link).netloc}); not followed",
            )
        return link

    def _resume_link(self, cursor: dict[str, Any] | None) -> str | None:
        """The saved link, or ``None`` to start a new round (the first sync, or a link to
        another server than the configured one: the setting changed, so start over)."""
        if cursor is None:
            return None
        link = cursor.get("delta_link")
        if not isinstance(link, str) or not link:
            raise MailboxError(
                "protocol", f"mail account {self.account.name!r}: the cursor has no delta_link"
            )
        if urlsplit(link)[:2] != urlsplit(self._graph.graph_url)[:2]:
            log.warning(
                "mail account %r: the saved delta link is for %s, not %s; reading anew",
                self.account.name,
                urlsplit(link).netloc,
                urlsplit(self._graph.graph_url).netloc,
            )
            return None
        return link

    async def _page(self, link: str | None, page_size: int) -> dict[str, Any]:
        headers = {"Prefer": f"odata.maxpagesize={page_size}, {IMMUTABLE_IDS}"}
        if link is not None:
            response = await self._graph.request("GET", link, headers=headers)
        else:
            folder = quote(self.account.folder, safe="")
            params = {"$select": MESSAGE_FIELDS}
            if self._since is not None:
                stamp = self._since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                params["$filter"] = f"receivedDateTime ge {stamp}"
            response = await self._graph.request(
                "GET",
                f"{self._user}/mailFolders/{folder}/messages/delta",
                params=params,
                headers=headers,
            )
        page = response.json()
        if not isinstance(page, dict):
            raise MailboxError("protocol", f"mail account {self.account.name!r}: not a page")
        return page

    async def _batch(
        self, entries: list[dict[str, Any]], link: str, more: bool, reset: bool
    ) -> SyncBatch:
        # A changed message comes again in a later page: keep its latest state, once.
        latest = {str(e["id"]): e for e in entries}
        ordered = sorted(latest.values(), key=lambda e: received_at(e.get("receivedDateTime")))
        items = []
        for entry in ordered:
            attachments = (
                await self._attachments(str(entry["id"])) if entry.get("hasAttachments") else []
            )
            items.append(mail_item(entry, attachments))
        return SyncBatch(items=items, cursor={"delta_link": link}, more=more, reset=reset)

    async def _attachments(self, message_id: str) -> list[dict[str, Any]]:
        """Names, types and sizes only: ``$select`` keeps the content (``contentBytes``) out."""
        response = await self._graph.request(
            "GET",
            f"{self._user}/messages/{quote(message_id, safe='')}/attachments",
            params={"$select": "name,contentType,size", "$top": str(MAX_ATTACHMENTS)},
            headers={"Prefer": IMMUTABLE_IDS},
        )
        value = response.json().get("value") or []
        return [a for a in value if isinstance(a, dict)]


class GraphSender(_GraphMailbox):
    """Sends from an M365 account (a :class:`~mcos.mail.message.MailSender`)."""

    async def send(self, mail: OutgoingMail) -> str:
        """Send exactly ``mail`` as a text message, saved to Sent Items.

        A new message goes through ``POST /users/{mailbox}/sendMail``, which answers 202 with no
        body: Graph says nothing of the message it made, so what is returned is its reference for
        the request (``graph-request:`` and the ``request-id`` it answered with), not a
        ``Message-ID``. A reply is a draft made with ``createReply`` and sent
        (``POST …/messages/{id}/send``, also 202); its ``internetMessageId`` is known from the
        draft, and returned. ``references`` is not used: Graph sets ``References`` from the
        original itself.
        """
        if mail.in_reply_to:
            draft = await self._write_draft(mail)
            await self._graph.request(
                "POST",
                f"{self._user}/messages/{quote(str(draft['id']), safe='')}/send",
                idempotent=False,
            )
            return str(draft.get("internetMessageId") or draft["id"])
        self._check_sender(mail)
        response = await self._graph.request(
            "POST",
            f"{self._user}/sendMail",
            json={"message": self._message_json(mail), "saveToSentItems": True},
            idempotent=False,
        )
        return "graph-request:" + str(response.headers.get("request-id", ""))
