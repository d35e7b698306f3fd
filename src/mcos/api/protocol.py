"""The HTTP/1.1 protocol ``mcos serve`` speaks: uvicorn's httptools protocol, with timeouts.

uvicorn (0.54) times out only idle keep-alive connections. A client that connects and sends
nothing, or half its headers, or stops in the middle of a body, or stops reading what it is sent,
would otherwise hold its connection — and, on a live stream, its subscription — for ever:

- **header timeout**: from the connection's start, or from the first byte of a request, until its
  headers are complete. A connection that sent nothing is closed; a request begun is answered
  408 ``request_timeout`` in the one error shape, and closed.
- **body timeout**: between two reads of a request's body (as nginx's ``client_body_timeout``):
  408, closed; the app sees the client leave. A body that keeps coming, however slowly, is read.
- **write timeout**: while the buffers towards the client stay full (the transport has paused
  writing): the connection is aborted. A live-stream subscriber that stopped reading is dropped
  so; it resumes with ``Last-Event-ID`` and loses nothing.

While the server itself holds back reading (a body the app has not taken yet, a pipelined
request), the client is not the one late, and the header and body clocks start again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from mcos.errors import RequestTimeout
from mcos.settings import Settings

log = logging.getLogger(__name__)


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header, body and write timeouts, in seconds."""

    header_timeout = 10.0
    body_timeout = 30.0
    write_timeout = 30.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._request_begun = False

    def _start(self, seconds: float, on_timeout: Callable[[], None]) -> asyncio.TimerHandle:
        return self.loop.call_later(seconds, on_timeout)

    def _stop_header_clock(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _stop_body_clock(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _stop_write_clock(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    # Connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = self._start(self.header_timeout, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        self._stop_body_clock()
        self._stop_write_clock()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The connection is another protocol's from here on.
        self._stop_header_clock()
        self._stop_body_clock()
        super().handle_websocket_upgrade()

    # Parser callbacks: a request's head, then its body

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        if self._header_timer is None:
            self._header_timer = self._start(self.header_timeout, self._headers_late)

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        super().on_headers_complete()
        self._body_timer = self._start(self.body_timeout, self._body_late)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._stop_body_clock()
        self._body_timer = self._start(self.body_timeout, self._body_late)

    def on_message_complete(self) -> None:
        self._stop_body_clock()
        self._request_begun = False
        super().on_message_complete()

    # Writing: the transport says when its buffer is full, and when it drains again

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self._start(self.write_timeout, self._reads_nothing)

    def resume_writing(self) -> None:
        self._stop_write_clock()
        super().resume_writing()

    # Timeouts

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            self._header_timer = self._start(self.header_timeout, self._headers_late)
            return
        if not self._request_begun:
            self.transport.close()  # nothing sent: nothing to answer
            return
        self._refuse(f"the request's headers did not arrive within {self.header_timeout:g} s")

    def _body_late(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            self._body_timer = self._start(self.body_timeout, self._body_late)
            return
        cycle = self.cycle
        if cycle.response_started:
            self.transport.close()  # answered already; the rest of the body will not come
            return
        # The app's answer, if it ever comes, goes nowhere; it sees the client leave.
        cycle.disconnected = True
        cycle.message_event.set()
        self._refuse(f"the request's body stalled: nothing arrived for {self.body_timeout:g} s")

    def _reads_nothing(self) -> None:
        self._write_timer = None
        if not self.transport.is_closing():
            log.info(
                "dropping a client that read nothing for %g s: %s", self.write_timeout, self.client
            )
            self.transport.abort()  # close() would wait for a buffer that never drains

    def _refuse(self, message: str) -> None:
        error = RequestTimeout(message)
        body = orjson.dumps(error.body())
        head = (
            b"HTTP/1.1 408 Request Timeout\r\n"
            b"content-type: application/json\r\n"
            b"content-length: %d\r\n"
            b"connection: close\r\n\r\n" % len(body)
        )
        self.transport.write(head + body)
        self.transport.close()


def timed_protocol(settings: Settings) -> type[TimedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``Config(http=...)``, with the timeouts of ``settings``."""

    class Configured(TimedHttpToolsProtocol):
        header_timeout = settings.header_timeout_seconds
        body_timeout = settings.body_timeout_seconds
        write_timeout = settings.write_timeout_seconds

    return Configured
