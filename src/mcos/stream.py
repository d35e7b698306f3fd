"""Fan-out of committed events to live subscribers, each with a bounded buffer, and the SSE body.

Events are published after every commit, from the writer's thread (or the replication thread),
with one hop onto the event loop per batch. ``publish`` never waits for a reader: a subscriber
that falls more than ``max_pending`` events behind has its buffer dropped and is told to resync,
which an SSE client does by reconnecting with ``Last-Event-ID`` and replaying from the database.

Invariants of :func:`event_stream`:

- it subscribes *before* it reads the log, so an event committed while the replay runs reaches
  it live if the replay missed it; events seen twice are dropped by sequence number;
- every event frame carries ``id: <seq>``, and the opening frame carries the starting position,
  so a client that reconnects with ``Last-Event-ID`` loses nothing and sees nothing twice;
- the events that piled up while the client was busy go out in one write;
- whatever ends the generator (the client leaving, a resync, an error), it unsubscribes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import NamedTuple

import orjson

from mcos.domain.events import Event

EventFilter = Callable[[Event], bool]
Replay = Callable[[int], Awaitable[list[Event]]]
"""Reads the next page of the log after a sequence number (already filtered by type)."""

RESYNC = "stream.resync"
"""Sent, without an id, to a subscriber that fell behind; the stream then ends."""
RETRY_MILLISECONDS = 2_000


def sse_frame(event: Event) -> bytes:
    data = orjson.dumps(event.as_dict())
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, event.type.encode(), data)


def type_filter(types: list[str] | None) -> EventFilter | None:
    """Exact types and ``namespace.*`` patterns, as the log's ``types`` query reads them."""
    if not types:
        return None
    exact = frozenset(t for t in types if not t.endswith(".*"))
    prefixes = tuple(t[:-1] for t in types if t.endswith(".*"))
    return lambda e: e.type in exact or e.type.startswith(prefixes)


class Segment(NamedTuple):
    """Frames of one published batch, joined once and shared by every subscriber that wants all."""

    first: int
    last: int
    frames: tuple[tuple[int, bytes], ...]
    """(seq, frame) per event, for the rare reader that needs only part of the segment."""
    chunk: bytes
    """All the frames, ready for one write."""

    @classmethod
    def of(cls, frames: tuple[tuple[int, bytes], ...]) -> Segment:
        return cls(frames[0][0], frames[-1][0], frames, b"".join(f for _, f in frames))

    def after(self, seq: int) -> bytes:
        """The frames of events after ``seq`` (all of them, usually)."""
        if seq < self.first:
            return self.chunk
        return b"".join(frame for s, frame in self.frames if s > seq)


class Subscription:
    """One live reader's buffer: segments offered by the broker, taken by the reader in bulk."""

    def __init__(self, broker: Broker, accepts: EventFilter | None, max_pending: int) -> None:
        self.broker = broker
        self.accepts = accepts
        self.max_pending = max_pending
        self.pending: deque[Segment] = deque()
        self.pending_events = 0
        self.overflowed = False
        """Set when more than ``max_pending`` events waited; nothing more is buffered."""
        self.ending = False
        """Set when the server shuts down: the stream ends and the client reconnects elsewhere."""
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, events: list[Event], everything: Segment) -> None:
        """Buffer what this reader wants of a published batch, or give up on it; never waits."""
        if self.overflowed:
            return
        if self.accepts is None:
            segment = everything
        else:
            wanted = tuple(
                frame
                for event, frame in zip(events, everything.frames, strict=True)
                if self.accepts(event)
            )
            if not wanted:
                return
            segment = Segment.of(wanted)
        count = len(segment.frames)
        if self.pending_events + count > self.max_pending:
            self.overflowed = True
            self.pending.clear()
            self.pending_events = 0
        else:
            self.pending.append(segment)
            self.pending_events += count
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, seconds: float) -> None:
        """Until there is something to take, or ``seconds`` pass (time for a keep-alive)."""
        if self.pending or self.overflowed or self.ending:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def take(self) -> list[Segment]:
        taken = list(self.pending)
        self.pending.clear()
        self.pending_events = 0
        return taken

    def close(self) -> None:
        self.broker.subscribers.discard(self)

    def end(self) -> None:
        self.ending = True
        if self._waiter is not None:
            _wake(self._waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Broker:
    """Hands each published batch to every subscriber; lives on the server's event loop."""

    def __init__(self, max_pending: int = 10_000) -> None:
        self.max_pending = max_pending
        self.subscribers: set[Subscription] = set()
        self.listeners: list[Callable[[list[Event]], None]] = []
        """Called on the loop with every published batch (the token cache's invalidation)."""
        self.loop: asyncio.AbstractEventLoop | None = None
        self.last_seq = 0
        """The newest sequence number published: where a stream without ``after`` starts."""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def subscribe(self, accepts: EventFilter | None = None) -> Subscription:
        subscription = Subscription(self, accepts, self.max_pending)
        self.subscribers.add(subscription)
        return subscription

    def end_all(self) -> None:
        """End every live stream (at shutdown), so no client holds the server open."""
        for subscription in list(self.subscribers):
            subscription.end()

    def publish_threadsafe(self, events: list[Event]) -> None:
        """Called by the writer thread after a commit: one hop onto the loop per batch."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.publish, events)

    def publish(self, events: list[Event]) -> None:
        """Offer committed events (in sequence order) to every subscriber, on the loop.

        Each event is encoded once and the batch joined once; readers that want everything
        share that one segment, so a publish costs little more per reader than a deque append.
        """
        if not events:
            return
        self.last_seq = max(self.last_seq, events[-1].seq)
        for listener in self.listeners:
            listener(events)
        if not self.subscribers:
            return
        everything = Segment.of(tuple((e.seq, sse_frame(e)) for e in events))
        for subscription in list(self.subscribers):
            subscription.offer(events, everything)


async def archived_resync(horizon: int) -> AsyncGenerator[bytes, None]:
    """The body of ``GET /stream`` resumed from before the archive horizon (events up to
    ``horizon`` may have been moved out by ``mcos db archive``): a ``stream.resync`` whose id
    moves the client's Last-Event-ID past the archived part; the client reloads its state."""
    payload = orjson.dumps(
        {"last_seq": horizon, "reason": f"events up to seq {horizon} were archived"}
    )
    yield b"retry: %d\nid: %d\nevent: %s\ndata: %s\n\n" % (
        RETRY_MILLISECONDS,
        horizon,
        RESYNC.encode(),
        payload,
    )


async def event_stream(
    broker: Broker,
    replay: Replay,
    *,
    after: int | None,
    accepts: EventFilter | None,
    keepalive_seconds: float,
    page_size: int,
) -> AsyncGenerator[bytes, None]:
    """The body of ``GET /stream``: the log after ``after`` (default: now), then live events.

    ``replay`` and ``accepts`` must select the same types. Each yielded chunk is one write.
    """
    subscription = broker.subscribe(accepts)
    try:
        last = broker.last_seq if after is None else after
        # A frame with an id and no data moves the client's Last-Event-ID without an event, so
        # a client that reconnects before any event arrives still resumes from here.
        yield b"retry: %d\nid: %d\n: connected at seq %d\n\n" % (RETRY_MILLISECONDS, last, last)
        while True:
            page = await replay(last)
            if page:
                last = page[-1].seq
                shown = [e for e in page if accepts is None or accepts(e)]
                if shown:
                    yield b"".join(sse_frame(e) for e in shown)
            if len(page) < page_size:
                break
        while True:
            await subscription.wait(keepalive_seconds)
            if subscription.ending:
                return
            if subscription.overflowed:
                payload = orjson.dumps({"last_seq": last, "reason": "subscriber fell behind"})
                yield b"event: %s\ndata: %s\n\n" % (RESYNC.encode(), payload)
                return
            taken = subscription.take()
            if not taken:
                yield b": keep-alive\n\n"
                continue
            # Events the replay already sent come again from the broker; they are dropped.
            fresh = [segment.after(last) for segment in taken if segment.last > last]
            if fresh:
                last = taken[-1].last
                yield b"".join(fresh)
    finally:
        subscription.close()
