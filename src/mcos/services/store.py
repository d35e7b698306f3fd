"""The store: the database, the writer, the fleet and the broker a request works with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

from mcos.fleet.schema import Fleet
from mcos.services.budgets import UsageItem, record_usages
from mcos.services.events import EventItem, post_events
from mcos.services.heartbeats import HeartbeatItem, record_heartbeats
from mcos.services.refusals import Refusal
from mcos.storage.database import Database
from mcos.storage.writer import WriteContext, Writer

T = TypeVar("T")


class Store:
    def __init__(self, db: Database, writer: Writer, fleet: Fleet) -> None:
        self.db = db
        self.writer = writer
        self.fleet = fleet

        # One function object for every heartbeat, so the writer groups them (submit_bulk).
        # These three run beside other replicas' batches (parallel): each locks the agents'
        # rows it reads to change them (FOR UPDATE, by name) and otherwise inserts and appends.
        def heartbeats(ctx: WriteContext, items: list[HeartbeatItem]) -> list[Any]:
            return record_heartbeats(ctx, self.fleet, items)

        self._heartbeats = heartbeats

        def usages(ctx: WriteContext, items: list[UsageItem]) -> list[Any]:
            return record_usages(ctx, self.fleet, items)

        self._usages = usages
        self._events = post_events

    async def record_heartbeat(self, item: HeartbeatItem) -> Any:
        """Record a heartbeat together with the others that arrive meanwhile."""
        return await self.writer.submit_bulk(self._heartbeats, item, parallel=True)

    async def post_event(self, item: EventItem) -> Any:
        """Append a posted event together with the others posted meanwhile."""
        return await self.writer.submit_bulk(self._events, item, parallel=True)

    async def record_usage(self, item: UsageItem) -> Any:
        """Record a usage report together with the others that arrive meanwhile."""
        return await self.writer.submit_bulk(self._usages, item, parallel=True)

    async def write(self, fn: Callable[..., T | Refusal], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(ctx, *args, **kwargs)`` as one unit of the writer; returns after the commit.

        The one way a route writes: it names the service function, never a closure of its own.
        """

        def unit(ctx: WriteContext) -> T | Refusal:
            return fn(ctx, *args, **kwargs)

        result = await self.writer.submit(unit)
        if isinstance(result, Refusal):  # its audit event is committed; now refuse the caller
            raise result.error
        return result

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on a read connection in a worker thread."""

        def run() -> T:
            with self.db.reading() as conn:
                return fn(conn, *args)

        return await anyio.to_thread.run_sync(run)
