"""The control plane goes away and comes back: the outbox keeps reports, the stream resumes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from mcos.client import AsyncClient, Unreachable
from tests.fixtures.server import Server, running_server


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Server]:
    """A control plane of this test's own, on SQLite: stopping it disturbs no other test."""
    with running_server(tmp_path, f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}") as srv:
        yield srv


def test_reports_wait_in_the_outbox_while_the_control_plane_is_down(
    restartable: Server, tmp_path: Path
) -> None:
    token = restartable.agent_token("flow")
    with restartable.client(restartable.agent_token("jarvis")) as jarvis:
        task = jarvis.post("/api/v1/tasks", json={"title": "Outage", "assignee": "flow"}).json()

    async def scenario() -> None:
        outbox = tmp_path / "flow-outbox.db"
        async with AsyncClient(restartable.url, token, outbox=outbox) as flow:
            assert await flow.name() == "flow"  # known before the outage: the outbox's lane
            restartable.stop()
            # Questions fail closed; reports are queued, durably, and answered None.
            with pytest.raises(Unreachable):
                await flow.ask("file.write", paths=["/srv/flow/a.md"])
            assert await flow.move(task["id"], "in_progress") is None
            assert await flow.comment(task["id"], "written while you were away") is None
            assert await flow.report_usage(None, 1_000, 50, id="usage-during-outage") is None
            assert flow.outbox is not None and flow.outbox.pending() == 3
            restartable.start()
            # A heartbeat tells the control plane how many reports still wait (GET /metrics).
            await flow.heartbeat("idle")
        # Closing drained the outbox into the control plane that came back.
        assert flow.outbox.pending() == 0 and flow.outbox.rejected() == []

        async with AsyncClient(restartable.url, token) as flow:
            card = await flow.task(task["id"])
            assert card.status == "in_progress"
            comments = [e.data["body"] for e in card.history if e.type == "task.commented"]
            assert comments == ["written while you were away"]
            usage = await flow.events(types=["usage.recorded"])
            assert [e.data["input_tokens"] for e in usage] == [1_000], "recorded once"
            [beat] = await flow.events(types=["agent.heartbeat"])
            assert 0 <= beat.data["outbox_pending"] <= 3, "delivery may have begun meanwhile"

    asyncio.run(scenario())


def test_the_stream_resumes_after_the_last_event_seen(restartable: Server) -> None:
    def mark(text: str) -> None:
        with restartable.client() as operator:
            answer = operator.post(
                "/api/v1/events", json={"type": "client_test.mark", "data": {"text": text}}
            )
            assert answer.status_code == 201, answer.text

    async def scenario() -> None:
        async with AsyncClient(restartable.url, restartable.operator_token, backoff=0.05) as op:
            events = op.stream(types=["client_test.mark"])
            reading = asyncio.ensure_future(anext(events))
            await asyncio.sleep(0.5)  # connected: the stream starts now, not from the past
            mark("before")
            first = await asyncio.wait_for(reading, 30)
            assert first.data["text"] == "before"
            # While this reader is not reading, its connection dies with the server, and two
            # events happen after the restart: only Last-Event-ID can bring them back.
            await asyncio.to_thread(restartable.stop)
            await asyncio.to_thread(restartable.start)
            mark("during 1")
            mark("during 2")
            texts = [(await asyncio.wait_for(anext(events), 30)).data["text"] for _ in range(2)]
            assert texts == ["during 1", "during 2"], "nothing missed, nothing repeated"
            mark("after")
            last = await asyncio.wait_for(anext(events), 30)
            assert last.data["text"] == "after" and last.seq > first.seq
            await events.aclose()

    asyncio.run(scenario())


class CountsStreams(httpx2.AsyncBaseTransport):
    """The real transport, noting the ``Last-Event-ID`` of each stream request."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.resumed_after: list[str | None] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/api/v1/stream":
            self.resumed_after.append(request.headers.get("Last-Event-ID"))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _socket_buffer_bytes() -> int:
    """What the kernel may buffer between the server and a reader that stopped reading."""
    try:
        wmem = Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()
        rmem = Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()
        return int(wmem[2]) + int(rmem[1])
    except (OSError, IndexError, ValueError):
        return 8 * 1024 * 1024


def test_a_reader_that_fell_behind_resumes_without_loss(tmp_path: Path) -> None:
    max_pending, padding = 32, "x" * 60_000
    flood = 2 * _socket_buffer_bytes() // len(padding) + 2 * max_pending
    settings = {
        "MCOS_STREAM_MAX_PENDING": str(max_pending),
        "MCOS_WRITE_TIMEOUT_SECONDS": "600",  # overflow, rather than be dropped as stalled
    }
    database = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with running_server(tmp_path, database, settings) as srv, srv.agent("donna") as donna:

        def post(n: int, kind: str = "runtime.step") -> int:
            answer = donna.post(
                "/api/v1/events", json={"type": kind, "data": {"n": n, "p": padding}}
            )
            assert answer.status_code == 201, answer.text
            seq: int = answer.json()["seq"]
            return seq

        async def scenario() -> None:
            wire = CountsStreams()
            http = httpx2.AsyncClient(base_url=srv.url, transport=wire)
            async with AsyncClient(srv.url, srv.operator_token, http=http, backoff=0.05) as op:
                events = op.stream(types=["runtime.step", "runtime.marker"])
                reading = asyncio.ensure_future(anext(events))
                await asyncio.sleep(0.5)  # connected, from now
                posted = [await asyncio.to_thread(post, -1)]
                assert (await asyncio.wait_for(reading, 30)).seq == posted[0]
                # This reader reads nothing while the flood fills every buffer on the way.
                posted += await asyncio.to_thread(lambda: [post(n) for n in range(flood)])
                posted.append(await asyncio.to_thread(post, flood, "runtime.marker"))
                seen: list[int] = []
                while not seen or seen[-1] != posted[-1]:
                    seen.append((await asyncio.wait_for(anext(events), 60)).seq)
                await events.aclose()
            await http.aclose()
            assert seen == posted[1:], "every event once, in order, across the resync"
            assert len(wire.resumed_after) == 2, "told to resync, it reconnected once"
            assert wire.resumed_after[0] is None and wire.resumed_after[1] is not None
            assert posted[0] <= int(wire.resumed_after[1]) < posted[-1]

        asyncio.run(scenario())
