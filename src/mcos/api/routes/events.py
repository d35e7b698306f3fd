"""/api/v1/events, /api/v1/stream and /api/v1/batch: the log, live and in bulk."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sqlalchemy import Connection
from starlette.responses import StreamingResponse
from starlette.types import Send

from mcos.api.auth import (
    CurrentPrincipal,
    CurrentStore,
    ReaderPrincipal,
    bearer_token,
    principal_for,
)
from mcos.api.body import documented_body, json_body
from mcos.api.params import SearchText
from mcos.api.responses import JSON
from mcos.contract.agent import Event as LoggedEvent
from mcos.contract.agent import EventList
from mcos.contract.errors import errors
from mcos.contract.requests import BatchIn, EventIn
from mcos.contract.vocab import EVENT_TYPES
from mcos.contract.work import BatchResult
from mcos.domain.events import Event, concerns
from mcos.errors import InvalidInput
from mcos.fleet.schema import Fleet
from mcos.inputs import INT64_MAX
from mcos.services import batch, events
from mcos.services.access import Principal
from mcos.services.event_archive import archive_horizon
from mcos.stream import EventFilter, archived_resync, event_stream, type_filter

router = APIRouter(prefix="/api/v1", tags=["events"])
REPLAY_PAGE = 1_000
MAX_SEQ = INT64_MAX
"""The largest sequence number a BIGINT column holds."""
SEQ_TEXT = re.compile(r"[0-9]{1,19}")
Types = Annotated[
    SearchText | None,
    Query(max_length=1_000, description="Comma-separated; 'task.*' matches a namespace"),
]


def _types(types: str | None) -> list[str] | None:
    return [t.strip() for t in types.split(",") if t.strip()] if types else None


@router.get(
    "/events",
    response_model=EventList,
    responses=errors(),
    summary="Read the event log after a sequence number (agents: only events they are party to)",
)
async def list_events(
    store: CurrentStore,
    principal: ReaderPrincipal,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    types: Types = None,
    subject: Annotated[SearchText | None, Query(max_length=64)] = None,
) -> JSON:
    found = await store.read(
        lambda conn: events.read_events(
            conn, after=after, limit=limit, types=_types(types), subject=subject
        )
    )
    party = party_filter(store.fleet, principal)
    items = [e.as_dict() for e in found if party is None or party(e)]
    return JSON({"events": items})


@router.post(
    "/events",
    response_model=LoggedEvent,
    responses=errors(409),
    status_code=201,
    summary="Append an event of the caller's own",
)
async def post_event(body: EventIn, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    # Together with the other events posted in the writer's batch (events.post_events).
    posted = await store.post_event(events.EventItem(principal, body))
    return JSON(posted, status_code=201)


@router.post(
    "/batch",
    response_model=BatchResult,
    responses=errors(404),
    summary="Many heartbeats, messages and events at once; atomic, and idempotent by id",
    openapi_extra=documented_body(BatchIn),
)
async def post_batch(request: Request, store: CurrentStore) -> JSON:
    # Read by hand: parsing thousands of items in one pydantic pass is the batch's main cost.
    principal = await principal_for(request, bearer_token(request))
    body = await json_body(request, BatchIn)
    batch.check_batch(principal, body)
    return JSON(await store.write(batch.apply_batch, store.fleet, principal, body))


def party_filter(fleet: Fleet, principal: Principal) -> EventFilter | None:
    """Operators read the whole log; an agent only the events it is party to; a runner those
    of its machine's agents (``mcos.domain.events.concerns``)."""
    if principal.is_operator:
        return None
    if principal.kind == "runner":
        mine = [a for a in fleet.agents if a.machine == principal.machine]
    else:
        agent = fleet.agent(principal.name)
        mine = [agent] if agent is not None else []
    names = frozenset(a.name for a in mine) or frozenset({principal.name})
    channels = frozenset(c for a in mine for c in a.channels)
    return lambda e: concerns(e.type, e.actor, e.subject, e.data, names, channels)


def _for(fleet: Fleet, principal: Principal, accepts: EventFilter | None) -> EventFilter | None:
    party = party_filter(fleet, principal)
    if party is None or accepts is None:
        return party or accepts
    wanted = accepts
    return lambda e: wanted(e) and party(e)


def _replay_page(conn: Connection, after: int, types: list[str] | None) -> list[Event]:
    return events.read_events(conn, after=after, limit=REPLAY_PAGE, types=types)


def _resume_point(last_event_id: str | None, after: int | None) -> int | None:
    """``Last-Event-ID`` wins over ``?after=``: a browser reconnects to the same URL with it."""
    if last_event_id is None:
        return after
    if not SEQ_TEXT.fullmatch(last_event_id):  # int() also takes " 5" and "1_0"
        raise InvalidInput(
            f"Last-Event-ID must be a sequence number, got {last_event_id!r}",
            field="Last-Event-ID",
        )
    seq = int(last_event_id)
    if not 0 <= seq <= MAX_SEQ:
        raise InvalidInput(
            f"Last-Event-ID must be between 0 and {MAX_SEQ}, got {seq}", field="Last-Event-ID"
        )
    return seq


class EventStreamResponse(StreamingResponse):
    """Closes its generator however the response ends, so the subscription never outlives it.

    Starlette stops iterating when the client leaves but leaves a generator parked at ``yield``
    to the garbage collector; this closes it at once.
    """

    media_type = "text/event-stream"

    def __init__(self, body: AsyncGenerator[bytes, None]) -> None:
        super().__init__(body, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._body = body

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            await self._body.aclose()


@router.get(
    "/stream",
    summary="Server-Sent Events of the event log, resumable with Last-Event-ID",
    description="Each event is sent with `id` = its sequence number and `event` = its type. "
    "Without `Last-Event-ID` or `after` the stream starts now; the first frame carries only the "
    "`id` it starts after. A subscriber that falls behind "
    "gets a `stream.resync` event and the stream ends; reconnecting with `Last-Event-ID` "
    "resumes without loss. Resuming from before the archive horizon (`mcos db archive` moved "
    "older events out) gets one `stream.resync` whose `id` is the horizon. Comments "
    "(`: keep-alive`) are sent when idle.",
    status_code=200,
    response_class=EventStreamResponse,
    responses={
        200: {
            "description": "The event log, live: `id` (the sequence number), `event` (its type) "
            "and `data` (the event as JSON, an `Event`) per frame",
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "itemSchema": {"$ref": "#/components/schemas/Event"},
                }
            },
            "x-event-types": list(EVENT_TYPES),
        },
        **errors(422, s422="`Last-Event-ID` or `after` is not a sequence number of this log"),
    },
)
async def stream(
    request: Request,
    store: CurrentStore,
    principal: ReaderPrincipal,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this sequence number")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="Replay from here (as Last-Event-ID)")
    ] = None,
    types: Types = None,
) -> EventStreamResponse:
    start = _resume_point(last_event_id, after)
    if start is not None and start > request.app.state.broker.last_seq:
        # Past what this replica has published: maybe not fanned out yet, maybe a client that
        # remembers another database. Only the log can tell.
        newest = await store.read(store.db.last_seq)
        if start > newest:
            field = "Last-Event-ID" if last_event_id is not None else "after"
            raise InvalidInput(
                f"{field} {start} is past the end of the event log (its newest event is "
                f"{newest}); reconnect without it to follow from now",
                field=field,
            )
    if start is not None:
        horizon = await store.read(archive_horizon)
        if start < horizon:  # some of what follows `start` was archived: start again
            return EventStreamResponse(archived_resync(horizon))
    wanted = _types(types)

    async def replay(last: int) -> list[Event]:
        return await store.read(_replay_page, last, wanted)

    body = event_stream(
        request.app.state.broker,
        replay,
        after=start,
        accepts=_for(store.fleet, principal, type_filter(wanted)),
        keepalive_seconds=request.app.state.settings.stream_keepalive_seconds,
        page_size=REPLAY_PAGE,
    )
    return EventStreamResponse(body)
