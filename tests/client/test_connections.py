"""The runner's pools (``mcos.client.connections``): an idle connection the server closed is
still noticed before a request is sent on it, with the socket remembered instead of looked up."""

from __future__ import annotations

import asyncio
import socket

import httpx2
import pytest

from mcos.client.connections import RememberedSockets, Transport, readable
from mcos.client.wire import new_pool
from mcos.runtime.providers import provider_pool


async def _closing_server(accepted: list[int]) -> asyncio.Server:
    """Answers one request per connection, keep-alive, then closes the connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        length = next((int(h[15:]) for h in lines if h.startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
        await writer.drain()
        writer.close()  # the server's choice, after answering: the client's copy is now stale

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_a_connection_the_server_closed_is_not_used_again() -> None:
    accepted: list[int] = []

    async def three_posts() -> None:
        server = await _closing_server(accepted)
        port = server.sockets[0].getsockname()[1]
        async with server, httpx2.AsyncClient(transport=Transport()) as client:
            for _ in range(3):
                # A POST is not retried by httpcore: sent on the closed connection, it fails.
                answer = await client.post(f"http://127.0.0.1:{port}/", content=b"{}")
                assert answer.text == "ok"
                await asyncio.sleep(0.05)  # the server's close reaches this side

    asyncio.run(three_posts())
    assert len(accepted) == 3


def test_the_runner_pools_remember_their_sockets() -> None:
    async def check() -> None:
        for pool in (new_pool("http://127.0.0.1:9"), provider_pool()):
            async with pool:
                transport = pool._transport
                assert isinstance(transport, Transport)
                # Set through httpcore2's private attribute: an upgrade that moves it fails.
                assert isinstance(transport._pool._network_backend, RememberedSockets)

    asyncio.run(check())


def test_readable_is_true_only_when_a_read_would_not_wait() -> None:
    left, right = socket.socketpair()
    with left, right:
        assert not readable(left)
        right.sendall(b"x")
        assert readable(left)
        left.recv(1)
        right.close()  # the peer hung up: a read answers b"" at once
        assert readable(left)
    assert readable(None)
    assert readable(left)  # closed: no descriptor, as good as gone


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
