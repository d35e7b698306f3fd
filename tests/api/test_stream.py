"""GET /api/v1/stream: Server-Sent Events of the log, resumable, filtered, bounded per reader.

The SSE frames are parsed here by hand from the raw bytes, as a browser's EventSource would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import Message, Scope

from mcos.api.app import create_app
from mcos.fleet.loader import template_text
from mcos.services.operators import add_operator
from mcos.services.store import Store
from mcos.settings import Settings
from mcos.storage.writer import WriteContext
from mcos.stream import Broker
from tests.fixtures.server import Server, error_of, running_server

READ_SECONDS = 10.0
"""How long a read may wait for the next bytes; a stream that falls silent fails the test."""


@dataclass
class Frame:
    id: int | None
    event: str | None
    data: Any
    comments: list[str] = field(default_factory=list)


class EventStream:
    """The frames of one open ``/stream`` response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.iter_bytes()
        self._buffer = b""

    def frame(self) -> Frame | None:
        """The next frame, or ``None`` when the server ended the stream."""
        while b"\n\n" not in self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                assert self._buffer == b"", f"stream ended inside a frame: {self._buffer!r}"
                return None
            self._buffer += chunk
        block, self._buffer = self._buffer.split(b"\n\n", 1)
        parsed = Frame(None, None, None)
        for line in block.decode().split("\n"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                parsed.comments.append(value)
            elif name == "id":
                parsed.id = int(value)
            elif name == "event":
                parsed.event = value
            elif name == "data":
                assert parsed.data is None, "one data line per event"
                parsed.data = orjson.loads(value)
            else:
                assert name == "retry", line
        return parsed

    def until(self, last: Callable[[Frame], bool], seconds: float = 30) -> list[Frame]:
        """Event frames (those with data) up to and including the first that ``last`` accepts."""
        deadline = time.monotonic() + seconds
        frames: list[Frame] = []
        while time.monotonic() < deadline:
            frame = self.frame()
            assert frame is not None, f"the stream ended; got {[f.id for f in frames]}"
            if frame.data is not None:
                frames.append(frame)
            if last(frame):
                return frames
        raise AssertionError(f"no awaited frame within {seconds}s; got {[f.id for f in frames]}")


@contextlib.contextmanager
def open_stream(
    server: Server, *, headers: dict[str, str] | None = None, params: dict[str, Any] | None = None
) -> Iterator[EventStream]:
    with (
        httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.operator_token}", **(headers or {})},
            timeout=httpx.Timeout(READ_SECONDS),
        ) as client,
        client.stream("GET", "/api/v1/stream", params=params) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        yield EventStream(response)


def post_event(client: httpx.Client, n: int, type: str = "runtime.step", **data: Any) -> int:
    response = client.post("/api/v1/events", json={"type": type, "data": {"n": n, **data}})
    assert response.status_code == 201, response.text
    seq: int = response.json()["seq"]
    return seq


def logged(
    client: httpx.Client, after: int, through: int, types: str | None = None
) -> list[dict[str, Any]]:
    """The log itself, after ``after`` up to ``through``: what a stream must have carried."""
    params: dict[str, Any] = {"after": after, "limit": 10_000}
    if types:
        params["types"] = types
    response = client.get("/api/v1/events", params=params)
    assert response.status_code == 200, response.text
    return [e for e in response.json()["events"] if e["seq"] <= through]


def opening(stream: EventStream) -> int:
    """The data-less first frame: its id is where the stream starts."""
    first = stream.frame()
    assert first is not None and first.data is None and first.id is not None, first
    return first.id


def test_stream_carries_each_event_and_resumes_after_last_event_id_even_after_a_crash(
    server: Server,
) -> None:
    with server.agent("donna") as donna, server.client() as operator:
        with open_stream(server) as live:
            start = opening(live)
            beat = donna.post(
                "/api/v1/agents/donna/heartbeat",
                json={"status": "working", "context_tokens": 84_000, "note": "inbox"},
            )
            assert beat.status_code == 200, beat.text
            frames = live.until(lambda f: f.event == "agent.heartbeat")
            heartbeat = frames[-1]
            assert heartbeat.id is not None
            log = logged(operator, start, heartbeat.id)
            assert [f.id for f in frames] == list(range(start + 1, heartbeat.id + 1))
            assert [f.id for f in frames] == [e["seq"] for e in log]
            assert [f.event for f in frames] == [e["type"] for e in log]
            assert [f.data for f in frames] == log
            assert heartbeat.data["actor"] == "agent:donna"
            assert heartbeat.data["data"]["gauge"]["tokens"] == 84_000
            assert heartbeat.data["data"]["note"] == "inbox"

            shown = [post_event(donna, n) for n in range(3)]
            last = live.until(lambda f: f.id == shown[-1])[-1].id
            assert last is not None
        missed = [post_event(donna, n) for n in range(3, 8)]
        marker = post_event(donna, 99, "runtime.marker")

        with open_stream(server, headers={"Last-Event-ID": str(last)}) as resumed:
            assert opening(resumed) == last
            got = resumed.until(lambda f: f.id == marker)
        assert [f.id for f in got] == list(range(last + 1, marker + 1))
        assert [f.data for f in got] == logged(operator, last, marker)
        assert set(missed) < {f.id for f in got}

        # ?after= does the same; Last-Event-ID wins, since a browser reconnects to the same URL.
        with open_stream(server, params={"after": last}) as by_query:
            assert opening(by_query) == last
            assert [f.id for f in by_query.until(lambda f: f.id == marker)] == [f.id for f in got]
        with open_stream(
            server, params={"after": 0}, headers={"Last-Event-ID": str(marker - 1)}
        ) as both:
            assert opening(both) == marker - 1
            assert [f.id for f in both.until(lambda f: f.id is not None)] == [marker]

        # Across a crash: the server dies under an open stream and comes back.
        with open_stream(server) as live:
            assert opening(live) >= marker
            read = post_event(donna, 1)
            assert live.until(lambda f: f.id == read)[-1].id == read
            unread = post_event(donna, 2)  # acknowledged, so it must survive the kill
            server.kill()
            with pytest.raises(httpx.TransportError):
                live.until(lambda f: False)
        server.start()
        after_restart = post_event(donna, 3)
        with open_stream(server, headers={"Last-Event-ID": str(read)}) as resumed:
            assert opening(resumed) == read
            got = resumed.until(lambda f: f.id == after_restart)
        assert [f.id for f in got] == list(range(read + 1, after_restart + 1))
        assert unread in {f.id for f in got}
        assert [f.data for f in got] == logged(operator, read, after_restart)


def test_types_filter_live_and_in_replay_and_bad_resume_points(server: Server) -> None:
    types = "agent.heartbeat,runtime.*"
    with server.agent("donna") as donna, server.client() as operator:
        with open_stream(server, params={"types": types}) as live:
            start = opening(live)
            donna.post("/api/v1/agents/donna/heartbeat", json={"status": "working"})
            post_event(donna, 1, "billing.invoice")
            post_event(donna, 2, "runtimes.step")
            post_event(donna, 3, "runtime.step")
            marker = post_event(donna, 4, "runtime.marker")
            got = live.until(lambda f: f.id == marker)
        wanted = logged(operator, start, marker, types)
        assert [f.event for f in got] == ["agent.heartbeat", "runtime.step", "runtime.marker"]
        assert [f.data for f in got] == wanted
        everything = logged(operator, start, marker)
        assert {e["type"] for e in everything} > {"billing.invoice", "runtimes.step"}

        # The replay from the database filters exactly as the live stream does.
        with open_stream(
            server, params={"types": types}, headers={"Last-Event-ID": str(start)}
        ) as replayed:
            opening(replayed)
            assert [f.data for f in replayed.until(lambda f: f.id == marker)] == wanted

        for bad in ("abc", "-1", "1.5", "", str(2**63)):
            response = operator.get("/api/v1/stream", headers={"Last-Event-ID": bad})
            assert response.status_code == 422, (bad, response.text)
            error = error_of(response)
            assert error["code"] == "invalid"
            assert error["field"] == "Last-Event-ID"
        assert (
            "'abc'"
            in error_of(operator.get("/api/v1/stream", headers={"Last-Event-ID": "abc"}))["message"]
        )
        response = operator.get("/api/v1/stream", params={"after": -1})
        assert response.status_code == 422
        assert error_of(response)["field"] == "after"
        # A resume point the log never reached (a client that remembers another database).
        beyond = operator.get("/api/v1/stream", headers={"Last-Event-ID": str(marker + 1000)})
        assert beyond.status_code == 422
        assert error_of(beyond)["field"] == "Last-Event-ID"
        assert "past the end of the event log" in error_of(beyond)["message"]
        beyond = operator.get("/api/v1/stream", params={"after": marker + 1000})
        assert error_of(beyond)["field"] == "after"
        response = httpx.get(server.url + "/api/v1/stream")
        assert response.status_code == 401
        assert error_of(response)["field"] == "Authorization"
        described = operator.get("/openapi.json").json()["paths"]["/api/v1/stream"]["get"]
        assert "text/event-stream" in described["responses"]["200"]["content"]


def _socket_buffer_bytes() -> int:
    """What the kernel may buffer between the server and a reader that stopped reading.

    The server's send buffer can grow to tcp_wmem's maximum; a receive buffer that is not read
    from keeps tcp_rmem's default size. Elsewhere than Linux, assume generous buffers.
    """
    try:
        wmem = Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()
        rmem = Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()
        return int(wmem[2]) + int(rmem[1])
    except (OSError, IndexError, ValueError):
        return 8 * 1024 * 1024


MAX_PENDING = 32
"""Small, yet above the few events PostgreSQL's fan-out may publish at once to a fast reader."""
PADDING = "x" * 60_000
# Twice what the buffers can hold, so the server's writes to the stalled reader block and its
# buffer overflows well before the flood ends.
FLOOD_EVENTS = 2 * _socket_buffer_bytes() // len(PADDING) + 2 * MAX_PENDING


@pytest.fixture
def impatient_server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """A server that lets a stream fall only a few events behind, and is quick to keep alive."""
    settings = {
        "MCOS_STREAM_MAX_PENDING": str(MAX_PENDING),
        "MCOS_STREAM_KEEPALIVE_SECONDS": "0.2",
        # The stalled reader must overflow, not be dropped for reading nothing during the flood
        # (test_stream_slow_readers.py drops one).
        "MCOS_WRITE_TIMEOUT_SECONDS": "600",
    }
    with running_server(tmp_path, database_url, settings) as srv:
        yield srv


def test_a_reader_that_stops_reading_is_told_to_resync_and_resumes_without_loss(
    impatient_server: Server,
) -> None:
    server = impatient_server
    fast_ids: list[int] = []
    fast_kinds: set[str | None] = set()
    failure: list[BaseException] = []

    def keep_up(fast: EventStream) -> None:
        try:
            while True:
                frame = fast.frame()
                assert frame is not None
                if frame.data is None:
                    continue
                fast_kinds.add(frame.event)
                assert frame.id is not None
                fast_ids.append(frame.id)
                if frame.event == "runtime.marker":
                    return
        except BaseException as exc:
            failure.append(exc)

    with server.agent("donna") as donna, open_stream(server) as stalled:
        start = opening(stalled)
        early = stalled.until(lambda f: "keep-alive" in f.comments)
        with open_stream(server, params={"after": start}) as fast:
            assert opening(fast) == start
            reader = threading.Thread(target=keep_up, args=(fast,))
            reader.start()
            # The stalled reader reads nothing from here until the flood is over.
            for n in range(FLOOD_EVENTS):
                post_event(donna, n, pad=PADDING)
            marker = post_event(donna, -1, "runtime.marker")
            reader.join(60)
            assert not reader.is_alive() and not failure, failure
        before_resync = stalled.until(lambda f: f.event == "stream.resync")
        resync = before_resync.pop()
        assert resync.id is None, "a resync must not move the client's Last-Event-ID"
        assert stalled.frame() is None, "the server ends the stream after a resync"
    delivered = [f.id for f in early + before_resync]
    assert delivered == list(range(start + 1, start + 1 + len(delivered)))
    last = delivered[-1] if delivered else start
    assert resync.data == {"last_seq": last, "reason": "subscriber fell behind"}
    assert last is not None and last < marker

    with open_stream(server, headers={"Last-Event-ID": str(last)}) as resumed:
        assert opening(resumed) == last
        rest = [f.id for f in resumed.until(lambda f: f.id == marker)]
    assert delivered + rest == list(range(start + 1, marker + 1))
    # The reader that kept up was never disturbed by the one that did not.
    assert fast_ids == list(range(start + 1, marker + 1))
    assert "stream.resync" not in fast_kinds


# In-process: the route's response must unsubscribe however the client leaves. Observed through
# the broker itself, which no HTTP endpoint exposes.


async def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (states of the app with no event to await)
            await asyncio.sleep(0.005)


class InProcessClient:
    """The client's side of one ASGI request: records what the app sends; can stall; can leave."""

    def __init__(self, *, stuck_after_bodies: int | None) -> None:
        self.sent: list[Message] = []
        self.left = asyncio.Event()
        self.stuck_after_bodies = stuck_after_bodies
        self._asked = False

    async def receive(self) -> Message:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if self.stuck_after_bodies is not None and len(self.bodies()) > self.stuck_after_bodies:
            await asyncio.Event().wait()  # the client's socket is full, for good

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


def stream_scope(token: str, after: int) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/stream",
        "raw_path": b"/api/v1/stream",
        "root_path": "",
        "query_string": f"after={after}".encode(),
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50_000),
        "server": ("127.0.0.1", 80),
    }


def append_steps(count: int) -> Callable[[WriteContext], None]:
    def unit(ctx: WriteContext) -> None:
        for n in range(count):
            ctx.append("runtime.step", "operator:test", None, {"n": n})

    return unit


def test_a_client_that_leaves_is_unsubscribed_even_while_a_write_to_it_is_stuck(
    tmp_path: Path, database_url: str
) -> None:
    fleet_file = tmp_path / "fleet.toml"
    fleet_file.write_text(template_text())
    settings = Settings(fleet=fleet_file, database_url=database_url, stream_max_pending=10)

    async def scenario() -> None:
        app = create_app(settings)
        broker: Broker = app.state.broker
        store: Store = app.state.store
        async with app.router.lifespan_context(app):
            token, _ = await store.write(add_operator, "test", "viewer")
            # From the log's end as committed: on PostgreSQL the broker hears of commits late.
            now = await store.read(store.db.last_seq)

            # Leaves during a quiet spell: the generator is waiting for events.
            idle = InProcessClient(stuck_after_bodies=None)
            request = asyncio.create_task(app(stream_scope(token, now), idle.receive, idle.send))
            await _until(lambda: len(idle.bodies()) == 1)
            assert idle.sent[0]["status"] == 200
            assert len(broker.subscribers) == 1
            idle.left.set()
            async with asyncio.timeout(10):
                await request
            assert broker.subscribers == set()

            # Leaves while the server's write to it is stuck: the generator is parked at a yield.
            stalled = InProcessClient(stuck_after_bodies=1)
            request = asyncio.create_task(
                app(stream_scope(token, now), stalled.receive, stalled.send)
            )
            await _until(lambda: len(stalled.bodies()) == 1)
            (subscription,) = broker.subscribers
            await store.write(append_steps(3))
            await _until(lambda: len(stalled.bodies()) == 2)
            assert stalled.bodies()[1].count(b"\nevent: runtime.step\n") == 3, "one write"
            await store.write(append_steps(11))
            await _until(lambda: subscription.overflowed)
            stalled.left.set()
            async with asyncio.timeout(10):
                await request
            assert broker.subscribers == set()

    asyncio.run(scenario())


def test_shutdown_ends_open_streams_cleanly_instead_of_waiting_on_them(server: Server) -> None:
    with server.client() as operator, operator.stream("GET", "/api/v1/stream") as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        assert server.process is not None
        server.process.terminate()
        # The stream ends after its last whole frame: a clean end of the body, no broken chunk.
        rest = list(lines)
        assert all(line == "" or line.startswith((":", "id:")) for line in rest), rest
        server.process.wait(30)  # uvicorn re-raises the SIGTERM after shutting down
    log = server.log_path.read_text()
    assert "Application shutdown complete" in log and "graceful shutdown exceeded" not in log
