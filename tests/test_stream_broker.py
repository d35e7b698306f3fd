"""The broker and the SSE body generator, without a server: bounded buffers, order, cleanup."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import orjson

from mcos.domain.events import Event
from mcos.stream import RESYNC, Broker, Segment, event_stream, sse_frame, type_filter

T0 = datetime(2026, 5, 1, 7, 0, tzinfo=UTC)


def event(seq: int, type: str = "runtime.step") -> Event:
    return Event(seq, T0, type, "agent:donna", "agent:donna", {"n": seq})


def seqs_of(segments: list[Segment]) -> list[int]:
    return [seq for segment in segments for seq, _ in segment.frames]


def test_a_subscriber_that_falls_behind_is_dropped_and_the_others_get_everything() -> None:
    broker = Broker(max_pending=10)
    slow = broker.subscribe()
    fast = broker.subscribe()
    received: list[int] = []
    # No event loop is running here: publish() is plain synchronous code, so it cannot await a
    # reader; it returns at once however far behind a subscriber is.
    for seq in range(1, 11):
        broker.publish([event(seq)])
        received += seqs_of(fast.take())
    assert not slow.overflowed, "exactly max_pending events waiting is still within bounds"
    assert seqs_of(list(slow.pending)) == list(range(1, 11))
    for seq in range(11, 1_001):
        broker.publish([event(seq)])
        received += seqs_of(fast.take())
    assert slow.overflowed
    assert not slow.pending, "an overflowed subscriber holds no frames"
    assert received == list(range(1, 1_001))
    assert not fast.overflowed
    assert broker.last_seq == 1_000
    slow.close()
    broker.publish([event(1_001)])
    assert broker.subscribers == {fast}
    assert seqs_of(fast.take()) == [1_001]


def test_one_batch_larger_than_the_buffer_overflows_at_once() -> None:
    broker = Broker(max_pending=10)
    subscription = broker.subscribe()
    broker.publish([event(seq) for seq in range(1, 12)])
    assert subscription.overflowed and not subscription.pending


def test_a_filtered_subscriber_buffers_and_counts_only_what_it_asked_for() -> None:
    broker = Broker(max_pending=10)
    tasks = broker.subscribe(type_filter(["task.*", "agent.heartbeat"]))
    for seq in range(1, 101):
        broker.publish([event(seq, "agent.liveness_changed")])
    broker.publish([event(101, "task.moved"), event(102, "taskforce.x"), event(103, "task")])
    broker.publish([event(104, "agent.heartbeat")])
    assert not tasks.overflowed
    assert seqs_of(tasks.take()) == [101, 104]


def test_type_filter_matches_exact_types_and_namespaces() -> None:
    accepts = type_filter(["agent.heartbeat", "task.*"])
    assert accepts is not None
    kinds = ["agent.heartbeat", "agent.synced", "task.moved", "task.created", "tasks.x", "task"]
    assert [k for k in kinds if accepts(event(1, k))] == [
        "agent.heartbeat",
        "task.moved",
        "task.created",
    ]
    assert type_filter(None) is None and type_filter([]) is None


def test_publish_from_another_thread_reaches_the_loop_in_order_and_wakes_the_reader() -> None:
    async def scenario() -> list[int]:
        broker = Broker()
        broker.bind(asyncio.get_running_loop())
        subscription = broker.subscribe()

        def writer() -> None:
            for start in range(1, 200, 10):
                broker.publish_threadsafe([event(s) for s in range(start, start + 10)])

        thread = threading.Thread(target=writer)
        thread.start()
        received: list[int] = []
        async with asyncio.timeout(10):
            while len(received) < 200:
                await subscription.wait(5)
                received += seqs_of(subscription.take())
        thread.join()
        return received

    assert asyncio.run(scenario()) == list(range(1, 201))


class Log:
    """A stand-in for the database's event log, read a page at a time as the route does."""

    def __init__(self, events: list[Event], page_size: int = 1_000) -> None:
        self.events = events
        self.page_size = page_size
        self.reads: list[int] = []
        self.on_read: list[Event] = []
        """Published to the broker during the next read, as if committed while it ran."""
        self.broker: Broker | None = None

    async def replay(self, after: int) -> list[Event]:
        self.reads.append(after)
        page = [e for e in self.events if e.seq > after][: self.page_size]
        if self.on_read and self.broker is not None:
            self.events += [e for e in self.on_read if e not in self.events]
            self.broker.publish(self.on_read)
            self.on_read = []
        return page


def frames_of(chunk: bytes) -> list[dict[str, str]]:
    frames = []
    for block in chunk.decode().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = value
        if block:
            frames.append(fields)
    return frames


def ids_of(chunk: bytes) -> list[int]:
    return [int(f["id"]) for f in frames_of(chunk) if "data" in f]


def stream_of(broker: Broker, log: Log, after: int | None) -> AsyncGenerator[bytes, None]:
    return event_stream(
        broker,
        log.replay,
        after=after,
        accepts=None,
        keepalive_seconds=30,
        page_size=log.page_size,
    )


def test_events_committed_around_the_replay_are_sent_once_and_in_order() -> None:
    async def scenario() -> tuple[list[bytes], bytes]:
        broker = Broker()
        broker.last_seq = 3
        # Event 4 is committed when the replay reads, so the page has it, but it is published
        # only while the read runs; event 5 is committed after the read and published too.
        log = Log([event(s) for s in range(1, 5)])
        log.broker = broker
        log.on_read = [event(4), event(5)]
        body = stream_of(broker, log, after=0)
        chunks = [await anext(body) for _ in range(3)]
        # A late, repeated publication of an event already sent (as a replica's fan-out may
        # do) is dropped without waking the client with an empty keep-alive.
        waiting = asyncio.ensure_future(anext(body))
        for _ in range(3):
            await asyncio.sleep(0)
        broker.publish([event(5)])
        for _ in range(3):
            await asyncio.sleep(0)
        broker.publish([event(6)])
        after_repeat = await waiting
        await body.aclose()
        return chunks, after_repeat

    chunks, after_repeat = asyncio.run(scenario())
    assert frames_of(chunks[0])[0]["id"] == "0", "the opening frame carries the starting point"
    assert [ids_of(chunk) for chunk in chunks[1:]] == [[1, 2, 3, 4], [5]]
    assert after_repeat == sse_frame(event(6))


def test_without_after_the_stream_starts_now_and_pages_through_a_long_replay() -> None:
    async def scenario() -> tuple[list[bytes], Log]:
        broker = Broker()
        broker.last_seq = 2
        log = Log([event(s) for s in range(1, 6)], page_size=2)
        body = stream_of(broker, log, after=None)
        chunks = [await anext(body) for _ in range(3)]
        await body.aclose()
        return chunks, log

    chunks, log = asyncio.run(scenario())
    assert "connected at seq 2" in chunks[0].decode()
    assert frames_of(chunks[0])[0]["id"] == "2"
    assert [ids_of(c) for c in chunks[1:]] == [[3, 4], [5]]
    assert log.reads == [2, 4]


def test_events_that_piled_up_go_out_in_one_write() -> None:
    async def scenario() -> bytes:
        broker = Broker()
        body = stream_of(broker, Log([]), after=0)
        await anext(body)
        for seq in range(1, 8):
            broker.publish([event(seq)])
        chunk = await anext(body)
        await body.aclose()
        return chunk

    chunk = asyncio.run(scenario())
    assert ids_of(chunk) == list(range(1, 8))
    assert chunk == b"".join(sse_frame(event(seq)) for seq in range(1, 8))


def test_a_reader_that_falls_behind_gets_resync_and_the_stream_ends() -> None:
    async def scenario() -> tuple[list[bytes], Broker]:
        broker = Broker(max_pending=10)
        body = stream_of(broker, Log([]), after=0)
        chunks = [await anext(body)]
        broker.publish([event(1)])
        chunks.append(await anext(body))
        # The client stops reading: the generator stays parked at its yield while writers go on.
        for seq in range(2, 50):
            broker.publish([event(seq)])
        chunks += [chunk async for chunk in body]
        return chunks, broker

    chunks, broker = asyncio.run(scenario())
    assert ids_of(chunks[1]) == [1]
    resync = frames_of(chunks[2])
    assert resync == [
        {
            "event": RESYNC,
            "data": orjson.dumps({"last_seq": 1, "reason": "subscriber fell behind"}).decode(),
        }
    ]
    assert "id" not in resync[0], "a resync must not move the client's Last-Event-ID"
    assert len(chunks) == 3
    assert not broker.subscribers


def test_an_idle_stream_sends_keep_alive_comments() -> None:
    async def scenario() -> bytes:
        broker = Broker()
        body = event_stream(
            broker, Log([]).replay, after=0, accepts=None, keepalive_seconds=0.01, page_size=10
        )
        await anext(body)
        chunk = await anext(body)
        await body.aclose()
        return chunk

    assert asyncio.run(scenario()) == b": keep-alive\n\n"


def test_the_subscription_ends_with_the_generator_however_it_ends() -> None:
    async def scenario() -> list[int]:
        broker = Broker()
        counts = []
        # Closed while parked at a yield (Starlette stopped iterating: the client left).
        body = stream_of(broker, Log([]), after=0)
        await anext(body)
        counts.append(len(broker.subscribers))
        await body.aclose()
        counts.append(len(broker.subscribers))
        # Cancelled while waiting for events (the client left during a quiet spell).
        body = stream_of(broker, Log([]), after=0)
        await anext(body)
        waiting = asyncio.ensure_future(anext(body))
        await asyncio.sleep(0)
        counts.append(len(broker.subscribers))
        waiting.cancel()
        try:
            await waiting
        except asyncio.CancelledError:
            pass
        counts.append(len(broker.subscribers))
        # Never started: nothing was subscribed in the first place.
        stream_of(broker, Log([]), after=0)
        counts.append(len(broker.subscribers))
        return counts

    assert asyncio.run(scenario()) == [1, 0, 1, 0, 0]


def test_a_published_batch_the_replay_half_sent_goes_out_from_where_the_replay_stopped() -> None:
    async def scenario() -> list[bytes]:
        broker = Broker()
        # A replica's fan-out page (10-15) spans commits the replay (1-12) partly saw.
        log = Log([event(s) for s in range(1, 13)])
        log.broker = broker
        log.on_read = [event(s) for s in range(10, 16)]
        body = stream_of(broker, log, after=0)
        chunks = [await anext(body) for _ in range(3)]
        await body.aclose()
        return chunks

    chunks = asyncio.run(scenario())
    assert ids_of(chunks[1]) == list(range(1, 13))
    assert chunks[2] == b"".join(sse_frame(event(s)) for s in (13, 14, 15))
