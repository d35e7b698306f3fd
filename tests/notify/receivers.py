"""Local receivers for notify tests, each speaking its service's wire protocol.

An SMTP server (aiosmtpd), an HTTP receiver that checks ``X-MCOS-Signature`` itself (its own
HMAC code, not the sender's), and a Telegram Bot API double answering ``/bot<TOKEN>/sendMessage``
as Telegram does. Each binds a free port on 127.0.0.1, so tests run side by side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from tests.fixtures.server import free_port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


class SmtpServer:
    """A real SMTP server on loopback; with ``login`` it requires that user and password."""

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        self.login = login

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and login is not None
                and (data.login.decode(), data.password.decode()) == login
            )
            return AuthResult(success=ok)

        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticate if login else None,
            auth_required=login is not None,
            auth_require_tls=False,
        )

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _State:
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    status: int = 200
    """What the receiver answers; 503 plays a receiver that is down."""
    secret: str | None = None
    bad_signatures: int = 0
    telegram_token: str | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        state = self.server.state
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if state.telegram_token is not None:
            self._telegram(state, body)
            return
        if state.status != 200:
            state.refused += 1
            self._answer(state.status, b"receiver down")
            return
        if state.secret is not None and not _signed(state.secret, self.headers, body):
            state.bad_signatures += 1
            self._answer(401, b"bad signature")
            return
        state.received.append(Received(self.path, dict(self.headers.items()), body))
        self._answer(200, b"ok")

    def _telegram(self, state: _State, body: bytes) -> None:
        if self.path != f"/bot{state.telegram_token}/sendMessage":
            answer = {"ok": False, "error_code": 401, "description": "Unauthorized"}
            self._answer(401, json.dumps(answer).encode(), "application/json")
            return
        payload = json.loads(body)
        if not payload.get("chat_id") or not payload.get("text"):
            answer = {"ok": False, "error_code": 400, "description": "Bad Request: text is empty"}
            self._answer(400, json.dumps(answer).encode(), "application/json")
            return
        state.received.append(Received(self.path, dict(self.headers.items()), body))
        result = {
            "message_id": len(state.received),
            "date": int(time.time()),
            "chat": {"id": payload["chat_id"], "type": "private"},
            "text": payload["text"],
        }
        self._answer(200, json.dumps({"ok": True, "result": result}).encode(), "application/json")

    def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _signed(secret: str, headers: Any, body: bytes) -> bool:
    """The receiver's side of the scheme in ``mcos/notify/README.md``, written independently."""
    header = headers.get("X-MCOS-Signature", "")
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in fields or "v1" not in fields or not headers.get("X-MCOS-Delivery"):
        return False
    if abs(time.time() - int(fields["t"])) > 300:
        return False
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields["v1"])


class HttpReceiver:
    """A webhook receiver (or, with ``telegram_token``, a Telegram Bot API double); with
    ``tls``, a server context holding its certificate, it speaks HTTPS."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        telegram_token: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State(secret=secret, telegram_token=telegram_token)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if tls is not None else "http"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def state(self) -> _State:
        return self._server.state

    @property
    def received(self) -> list[Received]:
        return self._server.state.received

    def url(self, path: str = "/hook") -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
