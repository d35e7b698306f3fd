"""Fan-out of committed events to live subscribers, each with a bounded buffer.

The writer publishes after every commit, from its own thread, with one hop onto the event loop
per batch. A subscriber that falls more than ``max_pending`` events behind is not waited for: its
buffer is dropped and it is told to resync, which an SSE client does by reconnecting with
``Last-Event-ID`` and replaying from the database. Writers never block on readers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

import orjson

from mcos.domain.events import Event

EventFilter = Callable[[Event], bool]


def sse_frame(event: Event) -> bytes:
    data = orjson.dumps(event.as_dict())
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, event.type.encode(), data)


class Subscription:
    def __init__(self, broker: Broker, accepts: EventFilter | None, max_pending: int) -> None:
        self.broker = broker
        self.accepts = accepts
        self.max_pending = max_pending
        self.pending: deque[tuple[int, bytes]] = deque()
        self.overflowed = False
        self._wakeup = asyncio.Event()

    def offer(self, frames: list[tuple[Event, bytes]]) -> None:
        if self.overflowed:
            return
        accepted = [(e.seq, f) for e, f in frames if self.accepts is None or self.accepts(e)]
        if not accepted:
            return
        if len(self.pending) + len(accepted) > self.max_pending:
            self.overflowed = True
            self.pending.clear()
        else:
            self.pending.extend(accepted)
        self._wakeup.set()

    async def wait(self, seconds: float) -> None:
        """Until there is something to take, or ``seconds`` pass (time for a keep-alive)."""
        if self.pending or self.overflowed:
            return
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()

    def take(self) -> list[tuple[int, bytes]]:
        taken = list(self.pending)
        self.pending.clear()
        return taken

    def close(self) -> None:
        self.broker.subscribers.discard(self)


class Broker:
    def __init__(self, max_pending: int = 10_000) -> None:
        self.max_pending = max_pending
        self.subscribers: set[Subscription] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.last_seq = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def subscribe(self, accepts: EventFilter | None = None) -> Subscription:
        subscription = Subscription(self, accepts, self.max_pending)
        self.subscribers.add(subscription)
        return subscription

    def publish_threadsafe(self, events: list[Event]) -> None:
        """Called by the writer thread after a commit: one hop onto the loop per batch."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.publish, events)

    def publish(self, events: list[Event]) -> None:
        if not events:
            return
        self.last_seq = max(self.last_seq, events[-1].seq)
        if not self.subscribers:
            return
        frames = [(e, sse_frame(e)) for e in events]
        for subscription in list(self.subscribers):
            subscription.offer(frames)
