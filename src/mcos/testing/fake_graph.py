"""A fake Microsoft 365 at the wire: Entra ID's token endpoint and Graph's mail endpoints, over
HTTPS with a throw-away CA, for driving :mod:`mcos.mail.graph` (and MSAL) without the internet.

It holds mailboxes in memory. A test registers an app (tenant, client id, secret) and a
mailbox, adds messages (HTML bodies, attachments, conversations), and checks what was drafted
and sent. It answers as the real services do where a client can tell:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token``
  (client credentials; a wrong secret is 401 ``invalid_client`` AADSTS7000215, an unknown app
  400 ``unauthorized_client``, an unknown tenant 400 ``invalid_tenant``);
- under ``/v1.0``: ``…/mailFolders/{folder}/messages/delta`` (``$select`` honoured, pages of
  ``Prefer: odata.maxpagesize``, newest first, ``@odata.nextLink``/``@odata.deltaLink`` with
  opaque tokens, ``@removed`` for deleted mail), ``…/messages/{id}/attachments``,
  ``POST …/messages`` (a draft), ``…/createReply``, ``PATCH …/messages/{id}``, ``…/send``,
  ``…/sendMail``, and ``GET …/messages?$filter=internetMessageId eq '…'``.

Every Graph call needs a bearer token it issued, for the mailbox's tenant (else 401
``InvalidAuthenticationToken``). :meth:`FakeGraph.throttle` makes the next calls 429 (or 503,
or 500) with ``Retry-After``; :meth:`FakeGraph.expire_sync_state` makes a mailbox's delta links 410
``syncStateNotFound``; :meth:`FakeGraph.expire_tokens` invalidates the tokens issued.

``trustme`` (a dev dependency) makes the CA: :attr:`FakeGraph.ca_file` is its PEM, and
:meth:`FakeGraph.ssl_context` a client context trusting it.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import uvicorn

from mcos.testing._fake_graph_app import create_app
from mcos.testing._fake_graph_state import (
    FakeAttachment,
    FakeMessage,
    GraphCall,
    GraphState,
    Mailbox,
    RecordedSend,
    TokenRequest,
)

__all__ = [
    "FakeAttachment",
    "FakeGraph",
    "FakeMessage",
    "GraphCall",
    "RecordedSend",
    "TokenRequest",
]

_STARTUP_TIMEOUT = 10.0


class FakeGraph:
    """The fake on a free 127.0.0.1 port in a background thread; a context manager.

    The socket listens before the thread starts, so a request made right after ``start``
    waits in the backlog rather than failing.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import trustme  # a dev dependency: only a test or a demo machine starts this fake

        self.state = GraphState()
        self._folder = tempfile.TemporaryDirectory(prefix="mcos-fake-graph-")
        folder = Path(self._folder.name)
        self._ca = trustme.CA()
        self.ca_file = folder / "ca.pem"
        """The PEM of the CA that signed the server's certificate: trust it to connect."""
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        server_pem = folder / "server.pem"
        self._ca.issue_cert(host, "localhost").private_key_and_cert_chain_pem.write_to_path(
            str(server_pem)
        )
        self._started = threading.Event()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(128)
        bound_host, bound_port = self._socket.getsockname()[:2]
        self.url = f"https://{bound_host}:{bound_port}"
        config = uvicorn.Config(
            create_app(self.state, on_startup=self._started.set),
            log_level="warning",
            lifespan="on",
            loop="asyncio",
            http="h11",
            ws="none",
            ssl_certfile=str(server_pem),
            timeout_keep_alive=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, args=([self._socket],), name="fake-graph", daemon=True
        )

    @property
    def login_url(self) -> str:
        """Entra ID's authority host (``MCOS_M365_LOGIN_URL``); the tenant follows it."""
        return self.url

    @property
    def graph_url(self) -> str:
        """Graph's REST root (``MCOS_GRAPH_URL``)."""
        return self.url + "/v1.0"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the fake's CA (and nothing else)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return context

    # -- setting up --------------------------------------------------------------------------

    def add_app(self, tenant: str, client_id: str, client_secret: str) -> None:
        """An app registration in ``tenant`` allowed to read and send its mailboxes."""
        with self.state.lock:
            self.state.apps[(tenant, client_id)] = client_secret

    def add_mailbox(self, address: str, *, tenant: str) -> None:
        with self.state.lock:
            self.state.mailboxes[address.lower()] = Mailbox(address.lower(), tenant)

    def add_message(
        self,
        mailbox: str,
        *,
        sender: str,
        subject: str,
        body: str,
        html: bool = False,
        sender_name: str = "",
        to: tuple[str, ...] = (),
        cc: tuple[str, ...] = (),
        conversation_id: str | None = None,
        internet_message_id: str | None = None,
        attachments: tuple[FakeAttachment, ...] = (),
        received_at: datetime | None = None,
        folder: str = "inbox",
    ) -> FakeMessage:
        """A message arriving in ``mailbox``'s ``folder``; the next delta round shows it."""
        state = self.state
        seq = state.next_seq()
        message = FakeMessage(
            id=state.new_id(),
            internet_message_id=internet_message_id or f"<fake-{seq}-{state.new_id()[4:12]}@x>",
            conversation_id=conversation_id or state.new_id(),
            sender=sender,
            sender_name=sender_name or sender.split("@")[0],
            subject=subject,
            body=body,
            body_type="html" if html else "text",
            to=to or (mailbox,),
            cc=cc,
            received_at=received_at or datetime.now(UTC),
            attachments=attachments,
            folder=folder,
            seq=seq,
        )
        with state.lock:
            state.mailboxes[mailbox.lower()].messages[message.id] = message
        return message

    def delete_message(self, mailbox: str, message_id: str) -> None:
        """Delete a message: later delta rounds show it as ``@removed``."""
        with self.state.lock:
            box = self.state.mailboxes[mailbox.lower()]
            message = box.messages.pop(message_id)
            box.removed.append((self.state.next_seq(), message))

    # -- misbehaving -------------------------------------------------------------------------

    def throttle(self, times: int = 1, *, retry_after: int = 1, status: int = 429) -> None:
        """The next ``times`` Graph calls answer ``status``: 429 (throttled) or 503 with
        ``Retry-After: retry_after``, any other (500) as a failure after the fact would."""
        with self.state.lock:
            self.state.throttle_left = times
            self.state.throttle_retry_after = retry_after
            self.state.throttle_status = status

    def expire_sync_state(self, mailbox: str) -> None:
        """Every delta link and next link of ``mailbox`` so far answers 410 from now on."""
        with self.state.lock:
            for delta in self.state.deltas.values():
                if delta.mailbox == mailbox.lower():
                    delta.gone = True

    def expire_tokens(self) -> None:
        """Forget every token issued: Graph answers 401 until a new one is fetched."""
        with self.state.lock:
            self.state.tokens.clear()

    # -- checking ----------------------------------------------------------------------------

    @property
    def token_requests(self) -> list[TokenRequest]:
        with self.state.lock:
            return list(self.state.token_requests)

    @property
    def calls(self) -> list[GraphCall]:
        """Every Graph call answered, oldest first."""
        with self.state.lock:
            return list(self.state.calls)

    @property
    def sent(self) -> list[RecordedSend]:
        with self.state.lock:
            return list(self.state.sent)

    def drafts(self, mailbox: str) -> list[FakeMessage]:
        """The messages in ``mailbox``'s Drafts, oldest first."""
        with self.state.lock:
            box = self.state.mailboxes[mailbox.lower()]
            return sorted(
                (m for m in box.messages.values() if m.folder == "drafts"), key=lambda m: m.seq
            )

    @property
    def attachment_contents_served(self) -> int:
        """How many times an attachment's content (``contentBytes``) was sent to a client."""
        with self.state.lock:
            return self.state.attachment_contents_served

    # -- running -----------------------------------------------------------------------------

    def start(self) -> FakeGraph:
        self._thread.start()
        if not self._started.wait(_STARTUP_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the fake Graph at {self.url} did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(_STARTUP_TIMEOUT)
        self._socket.close()
        self._folder.cleanup()

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
