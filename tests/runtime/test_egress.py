"""The egress proxy on its own: real unix and TCP sockets, a real upstream server, no sandbox.

Through it a networked sandbox reaches the outside, so what it refuses is what the agent cannot
reach (tests/runtime/test_sandbox.py drives it from inside a real sandbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

from mcos.runtime.egress import HEAD_LIMIT, EgressProxy, EgressRefused


class Upstream:
    """A TCP server on 127.0.0.1: records what it was sent; echoes, or answers one HTTP request."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.received: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self.mode == "echo":
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
                return
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            self.received.append(head + await reader.readexactly(length))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            await writer.drain()
            self.received.append(await reader.read())  # what else came on this connection
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def upstream(mode: str) -> AsyncIterator[tuple[Upstream, int]]:
    server_state = Upstream(mode)
    server = await asyncio.start_server(server_state.handle, "127.0.0.1", 0)
    async with server:
        yield server_state, server.sockets[0].getsockname()[1]


class Checks:
    """The injected check: allows ``*.allowed.test`` to 127.0.0.1, refuses the rest."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> str:
        self.asked.append((host, port))
        if host == "broken.test":
            raise RuntimeError("the policy crashed")
        if host == "nonsense.test":
            return "not-an-address"
        if host.endswith("allowed.test") or host == "10.255.255.1":
            return "127.0.0.1"
        raise EgressRefused(f"{host}:{port} is not allowed for this agent")


async def exchange(socket: Path, data: bytes) -> bytes:
    """Send ``data`` to the proxy, half-close, and read the answer to the end."""
    reader, writer = await asyncio.open_unix_connection(socket)
    writer.write(data)
    await writer.drain()
    writer.write_eof()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def test_connect_tunnels_bytes_both_ways_to_the_checked_address(tmp_path: Path) -> None:
    checks = Checks()

    async def scenario() -> tuple[bytes, bytes, int]:
        async with upstream("echo") as (_, port), EgressProxy(tmp_path / "e.sock", checks) as proxy:
            reader, writer = await asyncio.open_unix_connection(proxy.path)
            # 10.255.255.1 is not reachable from here: the proxy went to the check's answer.
            writer.write(f"CONNECT 10.255.255.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status = await reader.readuntil(b"\r\n\r\n")
            writer.write(b"ping through the tunnel")
            await writer.drain()
            echoed = await reader.readexactly(len(b"ping through the tunnel"))
            writer.write_eof()
            assert await reader.read() == b""
            writer.close()
            return status, echoed, port

    status, echoed, port = asyncio.run(scenario())
    assert status == b"HTTP/1.1 200 Connection established\r\n\r\n"
    assert echoed == b"ping through the tunnel"
    assert checks.asked == [("10.255.255.1", port)]


def test_an_absolute_form_request_is_forwarded_once_and_rewritten(tmp_path: Path) -> None:
    checks = Checks()

    async def scenario() -> tuple[bytes, list[bytes], int]:
        async with (
            upstream("http") as (server, port),
            EgressProxy(tmp_path / "e.sock", checks) as proxy,
        ):
            request = (
                f"POST http://api.allowed.test:{port}/v1/items?x=1 HTTP/1.1\r\n"
                "Host: evil.test\r\nProxy-Connection: keep-alive\r\n"
                "Proxy-Authorization: Basic c2VjcmV0\r\nContent-Length: 4\r\n\r\nbody"
                # a second request on the same connection, to a host nobody checked
                f"GET http://other.test:{port}/ HTTP/1.1\r\nHost: other.test\r\n\r\n"
            ).encode()
            answer = await exchange(proxy.path, request)
            return answer, server.received, port

    answer, received, port = asyncio.run(scenario())
    assert answer == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    head, rest = received
    assert head.startswith(b"POST /v1/items?x=1 HTTP/1.1\r\n")
    assert f"Host: api.allowed.test:{port}\r\n".encode() in head and b"evil.test" not in head
    assert b"Proxy-" not in head and head.endswith(b"Connection: close\r\n\r\nbody")
    assert rest == b"", "the second request never went upstream"
    assert checks.asked == [("api.allowed.test", port)]


def test_a_url_without_a_path_asks_for_the_root(tmp_path: Path) -> None:
    async def scenario() -> list[bytes]:
        async with (
            upstream("http") as (server, port),
            EgressProxy(tmp_path / "e.sock", Checks()) as proxy,
        ):
            await exchange(proxy.path, b"GET http://allowed.test:%d?q=1 HTTP/1.1\r\n\r\n" % port)
            return server.received

    head, _ = asyncio.run(scenario())
    assert head.startswith(b"GET /?q=1 HTTP/1.1\r\n")


def test_a_refused_destination_gets_403_with_the_reason_and_no_connection(tmp_path: Path) -> None:
    async def scenario() -> tuple[bytes, bytes, int, int]:
        async with (
            upstream("http") as (server, port),
            EgressProxy(tmp_path / "e.sock", Checks()) as proxy,
        ):
            get = await exchange(proxy.path, b"GET http://db.internal:%d/ HTTP/1.1\r\n\r\n" % port)
            tunnel = await exchange(proxy.path, b"CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n")
            return get, tunnel, server.connections, port

    get, tunnel, connections, port = asyncio.run(scenario())
    assert get.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert get.endswith(b"\r\n\r\ndb.internal:%d is not allowed for this agent\n" % port)
    assert tunnel.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert tunnel.endswith(b"169.254.169.254:80 is not allowed for this agent\n")
    assert connections == 0


def test_malformed_requests_get_400_and_bodies_without_length_411(tmp_path: Path) -> None:
    requests = {
        b"nonsense\r\n\r\n": 400,
        b"CONNECT allowed.test HTTP/1.1\r\n\r\n": 400,  # no port
        b"CONNECT allowed.test:99999 HTTP/1.1\r\n\r\n": 400,
        b"GET /relative HTTP/1.1\r\nHost: allowed.test\r\n\r\n": 400,
        b"GET https://allowed.test/ HTTP/1.1\r\n\r\n": 400,  # https goes through CONNECT
        b"GET http://user:pw@allowed.test/ HTTP/1.1\r\n\r\n": 400,
        b"GET http://allowed.test/ HTTP/1.1\r\nno colon here\r\n\r\n": 400,
        b"GET http://allowed.test/ HTTP/1.1\r\nX: " + b"a" * HEAD_LIMIT + b"\r\n\r\n": 400,
        b"POST http://allowed.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n": 411,
        b"GET http://allowed.test/ HTTP/1.1\r\n": 400,  # the head never ends
    }
    checks = Checks()

    async def scenario() -> dict[bytes, bytes]:
        async with EgressProxy(tmp_path / "e.sock", checks) as proxy:
            return {request: await exchange(proxy.path, request) for request in requests}

    answers = asyncio.run(scenario())
    for request, status in requests.items():
        assert answers[request].startswith(f"HTTP/1.1 {status} ".encode()), (
            request,
            answers[request],
        )
    assert checks.asked == [], "nothing malformed was even checked"


def test_upstream_and_check_failures_get_502_and_the_proxy_keeps_serving(tmp_path: Path) -> None:
    async def scenario() -> list[bytes]:
        async with (
            upstream("echo") as (_, port),
            EgressProxy(tmp_path / "e.sock", Checks()) as proxy,
        ):
            closed = socket_port_closed()
            return [
                await exchange(proxy.path, b"CONNECT allowed.test:%d HTTP/1.1\r\n\r\n" % closed),
                await exchange(proxy.path, b"CONNECT broken.test:443 HTTP/1.1\r\n\r\n"),
                await exchange(proxy.path, b"CONNECT nonsense.test:443 HTTP/1.1\r\n\r\n"),
                await exchange(proxy.path, b"CONNECT allowed.test:%d HTTP/1.1\r\n\r\nok" % port),
            ]

    unreachable, broken, nonsense, working = asyncio.run(scenario())
    assert unreachable.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b"could not reach allowed.test:" in unreachable
    assert broken.startswith(b"HTTP/1.1 502 ") and b"the egress check failed" in broken
    assert nonsense.startswith(b"HTTP/1.1 502 ") and b"gave no address" in nonsense
    assert working == b"HTTP/1.1 200 Connection established\r\n\r\nok"


def socket_port_closed() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_the_socket_is_private_replaces_a_stale_one_and_goes_at_close(tmp_path: Path) -> None:
    # deeper than the 107 bytes a socket's path may have, as a fleet folder's state dir can be
    folder = tmp_path / ("runner-state-" * 10)
    folder.mkdir()
    path = folder / "egress-alice.sock"
    assert len(str(path)) > 107
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    short = f"/proc/self/fd/{directory}/{path.name}"  # how a client reaches it from here

    async def scenario() -> tuple[int, bytes]:
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(short)  # and closed: a crashed runner's socket file stays behind
        proxy = EgressProxy(path, Checks())
        await proxy.start()
        mode = stat.S_IMODE(path.stat().st_mode)
        async with upstream("echo") as (_, port):
            reader, writer = await asyncio.open_unix_connection(short)
            writer.write(f"CONNECT allowed.test:{port} HTTP/1.1\r\n\r\n".encode())
            await reader.readuntil(b"\r\n\r\n")
            await proxy.close()  # cuts the open tunnel
            left = await asyncio.wait_for(reader.read(), 10)
            writer.close()
        return mode, left

    try:
        mode, left = asyncio.run(scenario())
    finally:
        os.close(directory)
    assert mode == 0o600
    assert left == b""
    assert not path.exists()
