"""Reading an IMAP mailbox incrementally, and saving drafts to it.

The cursor is ``{"uidvalidity": int, "last_uid": int}``: IMAP UIDs only grow within one
UIDVALIDITY, so "UIDs above ``last_uid``" is exactly the new mail. When the server's
UIDVALIDITY changes (a restored or rebuilt mailbox), old UIDs mean nothing: the read starts
over from UID 1 and says so (``reset=True``); the store recognises what it already holds by
``Message-ID``.

Nothing here changes the mailbox it reads: the folder is opened read-only (``EXAMINE``) and
bodies are fetched with ``BODY.PEEK``, so mail stays unread for the operator. Attachments are
listed from their MIME headers, never decoded or opened. imap-tools is synchronous: each call
runs on a thread with its own connection (login, work, logout), and every socket operation has
``timeout``, so a hung server costs a sync, never the agent.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools.errors import (
    ImapToolsError,
    MailboxFolderSelectError,
    MailboxLoginError,
    MailboxStarttlsError,
)

from mcos.fleet.mail import ImapAccount
from mcos.mail.message import (
    MAX_ATTACHMENTS,
    Attachment,
    MailboxError,
    MailItem,
    OutgoingMail,
    SyncBatch,
)
from mcos.mail.render import new_message_id, render
from mcos.mail.text import clip_text, html_to_text
from mcos.tls import trust_context

__all__ = ["ImapSource", "parse_message", "render"]

T = TypeVar("T")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")
_FETCH_PARTS = "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"


class ImapSource:
    """A :class:`~mcos.mail.message.MailSource` for one ``kind = "imap"`` account."""

    def __init__(
        self,
        account: ImapAccount,
        password: str,
        *,
        timeout: float = 30,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._account = account
        self._password = password
        self._timeout = timeout
        self._ssl_context = ssl_context

    async def fetch(
        self, cursor: dict[str, Any] | None, limit: int, *, since: datetime | None = None
    ) -> SyncBatch:
        if limit < 1:
            raise ValueError(f"limit is {limit}; read at least one message per call")
        return await self._run(lambda box: self._fetch(box, cursor, limit, since))

    async def save_draft(self, mail: OutgoingMail) -> str:
        try:
            message = render(mail, new_message_id(mail.sender))
        except ValueError as exc:
            raise MailboxError("protocol", f"the draft cannot be written: {exc}") from exc
        return await self._run(lambda box: self._append_draft(box, message.as_bytes()))

    async def save_sent(self, mail: OutgoingMail, message_id: str) -> str:
        """File a copy of ``mail``, sent over SMTP as ``message_id``, in the sent folder."""
        try:
            message = render(mail, message_id)
        except ValueError as exc:
            raise MailboxError("protocol", f"the copy cannot be written: {exc}") from exc
        folder = self._account.sent_folder
        return await self._run(
            lambda box: self._append(box, message.as_bytes(), folder, ["\\Seen"])
        )

    async def close(self) -> None:
        """Nothing stays open between calls: each one has its own connection."""

    # -- on the worker thread ------------------------------------------------------------

    def _fetch(
        self,
        box: BaseMailBox,
        cursor: dict[str, Any] | None,
        limit: int,
        since: datetime | None = None,
    ) -> SyncBatch:
        folder = self._account.folder
        try:
            box.folder.set(folder, readonly=True)
        except MailboxFolderSelectError as exc:
            raise MailboxError(
                "config",
                f"account {self._account.name!r}: folder {folder!r} cannot be opened on "
                f"{self._account.host} ({_server_text(exc)}); set folder to an existing "
                "mailbox (INBOX by default)",
            ) from exc
        uidvalidity = _uidvalidity(box, folder)
        last_uid = 0
        reset = False
        if cursor is not None:
            if int(cursor.get("uidvalidity", -1)) == uidvalidity:
                last_uid = int(cursor.get("last_uid", 0))
            else:
                reset = True
        # "UID n:*" also answers the highest UID when it is below n: filter here too.
        found = sorted(int(u) for u in box.uids(f"UID {last_uid + 1}:*") if int(u) > last_uid)
        if last_uid == 0 and since is not None and found:
            # A first read from a date: SEARCH SINCE (by arrival day) finds where to start; with
            # nothing that recent, the cursor moves past everything there is.
            recent = {int(u) for u in box.uids(f"SINCE {since:%d-%b-%Y}")}
            if not recent:
                return SyncBatch(
                    [], {"uidvalidity": uidvalidity, "last_uid": found[-1]}, False, reset
                )
            found = [u for u in found if u >= min(recent)]
        chosen = found[:limit]
        items = [parse_message(m, uidvalidity, d) for m, d in _fetch_messages(box, chosen)]
        items.sort(key=lambda item: int(item.key.partition(":")[2]))
        new_last = max(chosen, default=last_uid)
        return SyncBatch(
            items=items,
            cursor={"uidvalidity": uidvalidity, "last_uid": new_last},
            more=len(found) > limit,
            reset=reset,
        )

    def _append_draft(self, box: BaseMailBox, raw: bytes) -> str:
        return self._append(box, raw, self._account.drafts_folder, ["\\Draft", "\\Seen"])

    def _append(self, box: BaseMailBox, raw: bytes, folder: str, flags: list[str]) -> str:
        if not box.folder.exists(folder):
            box.folder.create(folder)
        _, data = box.append(raw, folder, dt=datetime.now(UTC), flag_set=flags)
        found = _APPENDUID.search(b" ".join(d for d in data if isinstance(d, bytes)))
        if found:
            return f"{folder}:{int(found.group(1))}"
        message_id = _MESSAGE_ID.search(raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace"))
        return f"{folder}:{message_id.group(0) if message_id else '?'}"

    # -- connection and errors -----------------------------------------------------------

    async def _run(self, work: Callable[[BaseMailBox], T]) -> T:
        # Each socket operation already times out; this bounds a server that answers just
        # slowly enough, forever. The thread then ends at its next socket timeout.
        deadline = self._timeout * 4
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._session, work), deadline)
        except TimeoutError as exc:
            raise MailboxError(
                "network",
                f"account {self._account.name!r}: {self._account.host}:{self._account.port} "
                f"did not finish within {deadline:g} s",
            ) from exc

    def _session(self, work: Callable[[BaseMailBox], T]) -> T:
        account = self._account
        try:
            box = self._connect()
        except (OSError, imaplib.IMAP4.error, MailboxStarttlsError) as exc:
            raise self._error(exc) from exc
        try:
            try:
                box.login(account.user, self._password, initial_folder=None)
            except MailboxLoginError as exc:
                raise MailboxError(
                    "auth",
                    f"account {account.name!r}: {account.host} refused the login of user "
                    f"{account.user!r} ({_server_text(exc)}); check the password in "
                    f"${account.password_env} and the account's user",
                ) from exc
            return work(box)
        except MailboxError:
            raise
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
            raise self._error(exc) from exc
        finally:
            try:
                box.logout()
            except (OSError, imaplib.IMAP4.error, ImapToolsError):
                pass  # the work is done or already failed; a failed goodbye changes nothing

    def _connect(self) -> BaseMailBox:
        account = self._account
        if account.tls == "ssl":
            context = self._ssl_context or trust_context()
            return MailBox(account.host, account.port, self._timeout, ssl_context=context)
        if account.tls == "starttls":
            context = self._ssl_context or trust_context()
            return MailBoxStartTls(account.host, account.port, self._timeout, ssl_context=context)
        return MailBoxUnencrypted(account.host, account.port, self._timeout)

    def _error(self, exc: BaseException) -> MailboxError:
        where = f"account {self._account.name!r}: {self._account.host}:{self._account.port}"
        if isinstance(exc, ssl.SSLError):
            return MailboxError(
                "network",
                f"{where}: the TLS handshake failed ({exc}); check tls "
                f"({self._account.tls!r}) and the server's certificate",
            )
        if isinstance(exc, socket.gaierror):
            return MailboxError("network", f"{where}: the host name does not resolve ({exc})")
        if isinstance(exc, TimeoutError):
            return MailboxError("network", f"{where}: no answer within {self._timeout:g} s")
        if isinstance(exc, OSError | imaplib.IMAP4.abort):
            return MailboxError("network", f"{where}: the connection failed ({exc})")
        if isinstance(exc, MailboxStarttlsError):
            return MailboxError(
                "protocol", f"{where}: the server refused STARTTLS; set tls to 'ssl' or check it"
            )
        return MailboxError("protocol", f"{where}: the server answered an error: {exc}")


def _server_text(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "…"


def _uidvalidity(box: BaseMailBox, folder: str) -> int:
    _, values = box.client.response("UIDVALIDITY")
    if values and values[0] is not None:
        return int(values[0])
    return int(box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])


def _fetch_messages(
    box: BaseMailBox, uids: list[int]
) -> Iterator[tuple[MailMessage, datetime | None]]:
    """The messages with these UIDs, bodies peeked (never marked \\Seen), each with its
    INTERNALDATE (imap-tools' own fetch does not ask for it)."""
    if not uids:
        return
    typ, data = box.client.uid("FETCH", ",".join(map(str, uids)), _FETCH_PARTS)
    if typ != "OK":
        raise imaplib.IMAP4.error(f"UID FETCH answered {typ}: {data!r}")
    # imaplib returns each message as (header line, literal) then the closing b")".
    pending: list[Any] = []
    for part in data:
        pending.append(part)
        if isinstance(part, tuple):
            continue
        if len(pending) >= 2 and isinstance(pending[0], tuple):
            header = pending[0][0]
            found = _INTERNALDATE.search(header)
            internal = _parse_internaldate(found.group(1)) if found else None
            yield MailMessage(pending), internal
        pending = []


def _parse_internaldate(raw: bytes) -> datetime | None:
    try:
        return datetime.strptime(raw.decode().strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


def parse_message(message: MailMessage, uidvalidity: int, internal: datetime | None) -> MailItem:
    """A fetched message as a :class:`MailItem` (key ``"{uidvalidity}:{uid}"``)."""
    key = f"{uidvalidity}:{message.uid}"
    obj = message.obj
    message_id = _first_id(obj.get("Message-ID", ""))
    in_reply_to = _first_id(obj.get("In-Reply-To", ""))
    references = _first_id(obj.get("References", ""))
    sender = message.from_values
    text, attachments = _body_and_attachments(obj)
    return MailItem(
        key=key,
        message_id=message_id,
        thread=references or in_reply_to or message_id or key,
        sender=(sender.email if sender else "").lower(),
        sender_name=sender.name if sender else "",
        to=tuple(a.email for a in message.to_values),
        cc=tuple(a.email for a in message.cc_values),
        subject=message.subject,
        received_at=_received_at(obj.get("Date"), internal),
        text=clip_text(text),
        attachments=tuple(attachments[:MAX_ATTACHMENTS]),
        in_reply_to=in_reply_to,
    )


def _first_id(header: Any) -> str:
    found = _MESSAGE_ID.search(str(header or ""))
    return found.group(0) if found else str(header or "").strip()


def _received_at(date_header: Any, internal: datetime | None) -> datetime:
    if date_header:
        try:
            parsed = parsedate_to_datetime(str(date_header))
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return internal or datetime.now(UTC)


def _body_and_attachments(root: Message) -> tuple[str, list[Attachment]]:
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for part in _leaves(root):
        content_type = part.get_content_type()
        is_file = part.get_filename() is not None or part.get_content_disposition() == "attachment"
        if not is_file and content_type == "text/plain":
            # A second inline text part (a list's footer) is part of what the reader sees.
            plain = _decoded_text(part) if plain is None else f"{plain}\n\n{_decoded_text(part)}"
        elif not is_file and content_type == "text/html":
            if html is None:  # later ones are alternatives of the same text
                html = _decoded_text(part)
        else:
            attachments.append(
                Attachment(
                    filename=part.get_filename() or "",
                    content_type=content_type,
                    size=_encoded_size(part),
                )
            )
    if plain is not None and plain.strip():
        return plain, attachments
    if html is not None:
        return html_to_text(html), attachments
    return plain or "", attachments


def _leaves(part: Message) -> Iterator[Message]:
    """The non-multipart parts, in order; an attached message (``message/rfc822``) is one
    leaf, not opened."""
    if part.get_content_maintype() == "multipart":
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from _leaves(child)
    else:
        yield part


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        text = payload.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")


def _encoded_size(part: Message) -> int:
    """The attachment's size in bytes, computed from its encoded text: never decoded."""
    raw = part.get_payload(decode=False)
    if isinstance(raw, list):  # an attached message: its parts' text
        return sum(len(str(p)) for p in raw)
    text = str(raw)
    if (part.get("Content-Transfer-Encoding") or "").strip().lower() == "base64":
        compact = "".join(text.split())
        return max(0, len(compact) * 3 // 4 - compact[-2:].count("="))
    return len(text.encode("utf-8", errors="replace"))
