"""The runner's connection pools, whose idle connections are checked without rebuilding them.

Before each request, and again as each answer ends, httpcore's pool asks every idle connection
whether the server has closed it ("is the socket readable?"). httpcore answers by asking anyio
for the raw socket, and anyio builds all of a socket's attributes to answer, a ``getpeername``
system call among them. With twenty agents at work a pool holds twenty connections: under
cProfile, these checks were 7% of a runner's event-loop time in ``bench/runtime.py`` at
concurrency 20. Without a profiler, twenty loops of requests through one pool to a local server
cost 12% less CPU a request with :class:`Transport` (``bench/pools.py``, 2026-12-07: 537 against
612 µs).

:class:`Transport` is httpx2's own transport whose connections remember their socket: the same
readability check (a zero-timeout ``poll``), without the attributes. Everything else (TLS,
timeouts, proxies from the environment, errors) is httpx2's and httpcore2's. The pool's network
backend is set through its private ``_network_backend``; ``tests/client/test_connections.py``
fails if an upgrade of httpx2 or httpcore2 moves it.
"""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2
from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


def readable(sock: socket.socket | None) -> bool:
    """Whether reading ``sock`` would return at once: on an idle connection, only the server's
    close (or a socket already gone) does that."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poll = getattr(select, "poll", None)
    if poll is None:  # pragma: no cover - Windows
        ready, _, _ = select.select([fd], [], [], 0)
        return bool(ready)
    poller = poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(AsyncNetworkStream):
    """One connection's stream, its socket looked up once."""

    def __init__(self, inner: AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 (httpcore2's interface)
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 (httpcore2's interface)
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
    ) -> AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return readable(self._socket)
        return self._inner.get_extra_info(info)


class RememberedSockets(AsyncNetworkBackend):
    """A network backend whose streams are :class:`_Stream`; the connecting is ``inner``'s."""

    def __init__(self, inner: AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        stream = await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        return _Stream(await self.inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class Transport(httpx2.AsyncHTTPTransport):
    """``httpx2.AsyncHTTPTransport`` (same arguments) over :class:`RememberedSockets`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pool: httpcore2.AsyncConnectionPool = self._pool  # a proxy's pool is one too
        pool._network_backend = RememberedSockets(pool._network_backend)
