"""The egress proxy: the only way a networked sandbox reaches anything, so its checks are the
boundary.

One HTTP proxy per agent, on a unix socket (mode 0600) in the runner's state directory, bound
into that agent's sandbox and bridged to ``127.0.0.1:3128`` there by socat. It understands
``CONNECT host:port`` (then tunnels bytes both ways) and absolute-form requests such as
``GET http://host:port/path`` (forwarded with ``Connection: close``: one request per connection).
For each it awaits the injected ``check(host, port)``, which resolves the name and decides, and
connects only to the one address the check returns: the proxy never resolves a name itself, so
what was checked is what is reached.

Answers: ``403`` with the check's reason when it refuses (:class:`EgressRefused`), ``400`` for
a malformed request, ``502`` when the upstream cannot be reached or the check fails otherwise.
Request heads are bounded, every wait has a timeout, and nothing a client sends can stop the
server or the runner it runs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("mcos.runtime.egress")

HEAD_LIMIT = 16 * 1024
"""The largest request line plus headers accepted."""
HEAD_SECONDS = 30.0
"""How long a client has to send its request head."""
CHECK_SECONDS = 30.0
"""How long the check may take (it may ask the control plane)."""
CONNECT_SECONDS = 10.0
IDLE_SECONDS = 300.0
"""A tunnel or forwarded request with no byte either way for this long is closed."""
MAX_CONNECTIONS = 64
"""Connections at once per agent; more are answered 503."""
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
}


class EgressRefused(Exception):
    """Raised by a check to refuse a destination; ``reason`` is what the client is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Check = Callable[[str, int], Awaitable[str]]
"""``check(host, port)`` returns the one IP address to connect to, or raises
:class:`EgressRefused`. The host is as the client wrote it (a name or an address literal)."""


class _Answer(Exception):
    """Answer the client with this and close (control flow inside one connection)."""

    def __init__(self, status: int, reason: str, text: str) -> None:
        super().__init__(text)
        self.status, self.reason, self.text = status, reason, text


def _response(status: int, reason: str, text: str) -> bytes:
    body = (text.rstrip("\n") + "\n").encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def _bad(text: str) -> _Answer:
    return _Answer(400, "Bad Request", text)


def _authority(text: str, default_port: int | None) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) split; ``_Answer`` 400 when it is not one."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise _bad(f"malformed address {text!r}")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    if port_text == "" and default_port is not None:
        port_text = str(default_port)
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _bad(f"give a host and a port (host:port), not {text!r}")
    if any(c in host for c in " /\\@?#\x00") or len(host) > 253:
        raise _bad(f"malformed host {host!r}")
    return host.lower(), int(port_text)


class EgressProxy:
    """One agent's egress proxy: ``await start()``, bind :attr:`path` into its sandbox as the
    ``egress_socket``, ``await close()`` when the agent stops."""

    def __init__(self, path: Path, check: Check) -> None:
        self.path = path
        self.check = check
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on :attr:`path` (mode 0600); a stale socket left there by a crash is replaced."""
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                self.path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # A socket's path may be at most 107 bytes, and a fleet folder's can be longer:
            # bind through the directory's descriptor, which names the same place briefly.
            directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                listener.bind(f"/proc/self/fd/{directory}/{self.path.name}")
            finally:
                os.close(directory)
            os.chmod(self.path, 0o600)
            self._server = await asyncio.start_unix_server(
                self._accept, sock=listener, limit=HEAD_LIMIT
            )
        except BaseException:
            listener.close()
            raise

    async def close(self) -> None:
        """Stop listening, cut every open connection, and remove the socket."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def __aenter__(self) -> EgressProxy:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            if len(self._handlers) > MAX_CONNECTIONS:
                text = f"more than {MAX_CONNECTIONS} connections at once"
                writer.write(_response(503, "Service Unavailable", text))
                await writer.drain()
                return
            await self._serve(reader, writer)
        except _Answer as answer:
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(_response(answer.status, answer.reason, answer.text))
                await asyncio.wait_for(writer.drain(), HEAD_SECONDS)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled
        except asyncio.CancelledError:
            # close() cuts the connection. Ending quietly, not cancelled, also spares asyncio's
            # stream callback (Python 3.11) a CancelledError it would log as an error.
            pass
        except Exception:  # a bug here must not take the runner down; say so and drop the client
            log.exception("egress proxy failed on a connection")
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_SECONDS)
        except asyncio.LimitOverrunError:
            raise _bad(f"the request head is larger than {HEAD_LIMIT} bytes") from None
        except TimeoutError:
            raise _Answer(408, "Request Timeout", "no request head in time") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return  # a client that connected and left without a word
            raise _bad("the connection closed inside the request head") from None
        try:
            lines = head.decode("ascii").split("\r\n")
        except UnicodeDecodeError:
            raise _bad("the request head is not ASCII") from None
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _bad(f"malformed request line {lines[0][:200]!r}")
        method, target, _ = parts
        headers = [line for line in lines[1:] if line]
        if any(":" not in line or line[0] in " \t" for line in headers):
            raise _bad("malformed header line")
        if method == "CONNECT":
            host, port = _authority(target, None)
            upstream = await self._open(host, port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await _relay(reader, writer, *upstream)
            return
        url = urlsplit(target)
        if url.scheme != "http" or not url.netloc or "@" in url.netloc:
            raise _bad(
                "send CONNECT host:port for https, or an absolute http:// URL "
                f"(not {target[:200]!r})"
            )
        host, port = _authority(url.netloc, 80)
        length = _content_length(headers)
        upstream = await self._open(host, port)
        path = target[len(f"{url.scheme}://{url.netloc}") :]
        path = path if path.startswith("/") else f"/{path}"
        kept = [h for h in headers if h.split(":", 1)[0].strip().lower() not in _HOP_BY_HOP]
        kept = [h for h in kept if h.split(":", 1)[0].strip().lower() != "host"]
        head_out = "\r\n".join(
            [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}", *kept, "Connection: close"]
        )
        upstream[1].write(head_out.encode("ascii") + b"\r\n\r\n")
        await _relay(reader, writer, *upstream, client_bytes=length)

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Ask the check, then connect to the address it returned and to nothing else."""
        try:
            address = await asyncio.wait_for(self.check(host, port), CHECK_SECONDS)
        except EgressRefused as refused:
            log.info("egress to %s:%d refused: %s", host, port, refused.reason)
            raise _Answer(403, "Forbidden", refused.reason) from None
        except TimeoutError:
            raise _Answer(502, "Bad Gateway", f"no egress decision for {host} in time") from None
        except Exception as exc:
            log.exception("the egress check failed for %s:%d", host, port)
            raise _Answer(502, "Bad Gateway", f"the egress check failed: {exc!r}") from None
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            log.error("the egress check for %s returned %r, not an IP address", host, address)
            raise _Answer(502, "Bad Gateway", "the egress check gave no address") from None
        try:
            return await asyncio.wait_for(asyncio.open_connection(str(ip), port), CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            what = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or repr(exc)
            raise _Answer(502, "Bad Gateway", f"could not reach {host}:{port}: {what}") from None


def _content_length(headers: list[str]) -> int:
    """How many body bytes follow the head (0 without a body); chunked bodies are refused."""
    length = 0
    for line in headers:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "transfer-encoding":
            raise _Answer(
                411,
                "Length Required",
                "send a Content-Length, or use CONNECT: the proxy does not forward chunked bodies",
            )
        if name == "content-length":
            if not value.strip().isdigit():
                raise _bad(f"malformed Content-Length {value.strip()!r}")
            length = int(value.strip())
    return length


async def _relay(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
    client_bytes: int | None = None,
) -> None:
    """Copy both ways until both sides are done or idle. With ``client_bytes``, only that many
    bytes go upstream (one request's body), so a kept-alive client cannot slip a second request
    to another host down this connection."""
    activity = asyncio.Event()

    async def copy(
        src: asyncio.StreamReader, dst: asyncio.StreamWriter, budget: int | None
    ) -> None:
        try:
            while budget is None or budget > 0:
                chunk = await src.read(65536 if budget is None else min(65536, budget))
                if not chunk:
                    break
                if budget is not None:
                    budget -= len(chunk)
                activity.set()
                dst.write(chunk)
                await dst.drain()
            if dst.can_write_eof():
                dst.write_eof()
        except (OSError, RuntimeError):
            pass

    async def watchdog() -> None:
        while True:
            try:
                await asyncio.wait_for(activity.wait(), IDLE_SECONDS)
            except TimeoutError:
                return
            activity.clear()

    upward = asyncio.create_task(copy(client_reader, upstream_writer, client_bytes))
    downward = asyncio.create_task(copy(upstream_reader, client_writer, None))
    idle = asyncio.create_task(watchdog())
    try:
        # Forwarded requests end when the response has been read; tunnels when both sides end.
        ends = {downward} if client_bytes is not None else {upward, downward}
        while ends:
            done, _ = await asyncio.wait({*ends, idle}, return_when=asyncio.FIRST_COMPLETED)
            if idle in done:
                break
            ends -= done
    finally:
        for task in (upward, downward, idle):
            task.cancel()
        upstream_writer.close()  # first: a cancelled handler still lets go of its upstream
        await asyncio.gather(upward, downward, idle, return_exceptions=True)
        with contextlib.suppress(Exception):
            await upstream_writer.wait_closed()
