"""/api/v1/events, /api/v1/stream and /api/v1/batch: the log, live and in bulk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request
from sqlalchemy import Connection
from starlette.responses import StreamingResponse

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.domain.events import Event
from mcos.errors import InvalidInput
from mcos.schemas import BatchIn, EventIn
from mcos.services import batch, events
from mcos.stream import Broker, EventFilter, sse_frame

router = APIRouter(prefix="/api/v1", tags=["events"])
REPLAY_PAGE = 1_000


def _types(types: str | None) -> list[str] | None:
    return [t.strip() for t in types.split(",") if t.strip()] if types else None


@router.get("/events", summary="Read the event log after a sequence number")
async def list_events(
    store: CurrentStore,
    _: CurrentPrincipal,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    types: Annotated[
        str | None, Query(description="Comma-separated; 'task.*' matches a namespace")
    ] = None,
    subject: str | None = None,
) -> JSON:
    items = await store.read(
        lambda conn: events.list_events(
            conn, after=after, limit=limit, types=_types(types), subject=subject
        )
    )
    return JSON({"events": items})


@router.post("/events", status_code=201, summary="Append an event of the caller's own")
async def post_event(body: EventIn, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    return JSON(await store.write(events.post_event, principal, body), status_code=201)


@router.post("/batch", summary="Many heartbeats, messages and events at once; idempotent by id")
async def post_batch(body: BatchIn, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    batch.check_batch(principal, body)
    return JSON(await store.write(batch.apply_batch, store.fleet, principal, body))


def _replay_page(conn: Connection, after: int, types: list[str] | None) -> list[Event]:
    return events.read_events(conn, after=after, limit=REPLAY_PAGE, types=types)


def _matcher(types: list[str] | None) -> EventFilter | None:
    if not types:
        return None
    exact = {t for t in types if not t.endswith(".*")}
    prefixes = tuple(t[:-1] for t in types if t.endswith(".*"))
    return lambda e: e.type in exact or e.type.startswith(prefixes)


@router.get(
    "/stream",
    summary="Server-Sent Events of the event log, resumable with Last-Event-ID",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    store: CurrentStore,
    _: CurrentPrincipal,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[
        int | None, Query(ge=0, description="Replay from here (as Last-Event-ID)")
    ] = None,
    types: str | None = None,
) -> StreamingResponse:
    if last_event_id is not None:
        try:
            after = int(last_event_id)
        except ValueError:
            raise InvalidInput(
                f"Last-Event-ID must be a sequence number, got {last_event_id!r}",
                field="Last-Event-ID",
            ) from None
        if after < 0:
            raise InvalidInput("Last-Event-ID cannot be negative", field="Last-Event-ID")
    wanted = _types(types)
    broker: Broker = request.app.state.broker
    keepalive = request.app.state.settings.stream_keepalive_seconds
    # Subscribe before replaying so nothing committed in between is missed.
    subscription = broker.subscribe(_matcher(wanted))
    start = after if after is not None else broker.last_seq

    async def body() -> AsyncIterator[bytes]:
        last = start
        try:
            yield b"retry: 2000\n: connected at seq %d\n\n" % last
            while True:
                page = await store.read(_replay_page, last, wanted)
                if page:
                    last = page[-1].seq
                    yield b"".join(sse_frame(e) for e in page)
                if len(page) < REPLAY_PAGE:
                    break
            while True:
                await subscription.wait(keepalive)
                if subscription.overflowed:
                    payload = orjson.dumps({"last_seq": last, "reason": "subscriber fell behind"})
                    yield b"event: stream.resync\ndata: %s\n\n" % payload
                    return
                fresh = [(seq, frame) for seq, frame in subscription.take() if seq > last]
                if fresh:
                    last = fresh[-1][0]
                    yield b"".join(frame for _, frame in fresh)
                else:
                    yield b": keep-alive\n\n"
        finally:
            subscription.close()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
