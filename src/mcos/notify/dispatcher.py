"""The dispatcher: a background task of the control plane that sends what channels carry.

Woken by the broker when an event a channel may carry is published (so a P0 leaves within
seconds), and by its own clock: every ``tick`` as a backstop, and when the next retry or the end
of quiet hours falls due. Each pass: ``collect`` (events → deliveries), then ``claim`` and send,
each channel's deliveries in order, channels side by side. Every write is a unit of the store's
writer (:mod:`mcos.services.notify`); nothing here touches the database directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from mcos.domain.events import Event
from mcos.errors import NotFound
from mcos.notify.content import Notice, test_notice
from mcos.notify.senders import send
from mcos.notify.transport import Delivery, DeliveryError
from mcos.services import notify as service
from mcos.services.access import Principal, require_operator
from mcos.services.store import Store

log = logging.getLogger(__name__)


class NotifyDispatcher:
    def __init__(
        self,
        store: Store,
        link_base: str,
        *,
        tick_seconds: float,
        retry: service.Retry,
        timeout_seconds: float,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.link_base = link_base.rstrip("/")
        self.tick_seconds = tick_seconds
        self.retry = retry
        self.timeout_seconds = timeout_seconds
        self.lease = timedelta(seconds=2 * timeout_seconds + 5)
        """Longer than any send takes: a row claimed longer ago than this had a sender die."""
        self.environ = os.environ if environ is None else environ
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def on_events(self, events: list[Event]) -> None:
        """A broker listener: a new event some channel may carry wakes the dispatcher."""
        if any(e.type in service.SOURCE_TYPES for e in events):
            self._wake.set()

    def start(self) -> None:
        if self.store.fleet.notify:
            self._task = asyncio.create_task(self._run(), name="mcos-notify")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
                wait = await self._seconds_to_next()
            except Exception:
                log.exception("notify pass failed")
                wait = self.tick_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()

    async def _seconds_to_next(self) -> float:
        due = await self.store.read(service.next_due, self.store.fleet)
        if due is None:
            return self.tick_seconds
        left = (due - datetime.now(UTC)).total_seconds()
        return max(0.05, min(self.tick_seconds, left))

    async def run_once(self) -> None:
        """One pass: make the deliveries for new events, then send all that are due."""
        fleet = self.store.fleet
        while await self.store.write(service.collect, fleet, self.link_base):
            pass  # a backlog longer than one scan window is made in steps
        await self.store.write(service.collect, fleet, self.link_base)
        while True:
            claimed = await self.store.write(service.claim, fleet, self.lease)
            if not claimed:
                return
            by_channel: dict[str, list[dict[str, Any]]] = {}
            for row in claimed:
                by_channel.setdefault(row["channel"], []).append(row)
            await asyncio.gather(*(self._send_all(rows) for rows in by_channel.values()))

    async def _send_all(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            await self._deliver(row)

    async def _deliver(self, row: dict[str, Any]) -> None:
        channel = next(c for c in self.store.fleet.notify if c.name == row["channel"])
        delivery = Delivery(
            id=f"{row['channel']}:{row['event_seq']}",
            notice=Notice(row["kind"], row["subject"], row["body"], row["link"]),
            fleet=self.store.fleet.fleet.name,
            event_seq=row["event_seq"],
            event_type=row["event_type"],
        )
        try:
            await send(channel, delivery, self.environ, self.timeout_seconds)
        except DeliveryError as exc:
            await self.store.write(service.record_failure, row["id"], exc.message, self.retry)
        except Exception as exc:  # a bug in a transport must not stop the others
            log.exception("notify channel %s failed unexpectedly", row["channel"])
            error = f"internal error: {type(exc).__name__}"
            await self.store.write(service.record_failure, row["id"], error, self.retry)
        else:
            await self.store.write(service.record_sent, row["id"])

    async def send_test(self, principal: Principal, name: str) -> dict[str, Any]:
        """Send a test notification through ``name`` now; the answer says whether it arrived."""
        require_operator(principal, "send a test notification")
        fleet = self.store.fleet
        channel = next((c for c in fleet.notify if c.name == name), None)
        if channel is None:
            known = ", ".join(c.name for c in fleet.notify) or "none"
            raise NotFound(f"no notify channel named {name!r} (known: {known})", field="name")
        delivery = Delivery(
            id=f"{name}:test-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}",
            notice=test_notice(name, fleet.fleet.name, self.link_base, principal.name),
            fleet=fleet.fleet.name,
        )
        error = None
        try:
            await send(channel, delivery, self.environ, self.timeout_seconds)
        except DeliveryError as exc:
            error = exc.message
        result: dict[str, Any] = await self.store.write(
            service.record_test, name, principal.actor, error
        )
        return result | {"delivery": delivery.id}
