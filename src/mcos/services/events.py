"""The event log: reading it, and events that clients post themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, or_, select

from mcos.contract.requests import MAX_EVENT_DATA_CHARS, EventIn
from mcos.domain.events import Event, client_type_problem
from mcos.errors import Conflict, InvalidInput
from mcos.services.access import Principal
from mcos.storage import tables
from mcos.storage.writer import WriteContext

E = tables.events


def refuse_duplicates(ctx: WriteContext, pairs: list[tuple[str, str]], what: str) -> None:
    """For a bulk unit: raise 409 ``duplicate_id`` if an (actor, client id) pair repeats in
    ``pairs`` or is recorded already; the writer then runs each item alone, for its own answer."""
    if len(set(pairs)) < len(pairs) or ctx.recorded_client_ids(pairs):
        raise Conflict(f"a {what} id was already recorded", field="id", code="duplicate_id")


def seen_client_ids(conn: Connection, actor: str, client_ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for start in range(0, len(client_ids), 500):
        chunk = client_ids[start : start + 500]
        seen.update(
            r.client_id
            for r in conn.execute(
                select(E.c.client_id).where(E.c.actor == actor, E.c.client_id.in_(chunk))
            )
        )
    return seen


def check_client_event(body: EventIn, field: str, principal: Principal) -> None:
    problem = client_type_problem(body.type, operator=principal.is_operator)
    if problem:
        raise InvalidInput(problem, field=f"{field}type")
    import orjson

    if len(orjson.dumps(body.data)) > MAX_EVENT_DATA_CHARS:
        raise InvalidInput(
            f"data is larger than {MAX_EVENT_DATA_CHARS} bytes as JSON", field=f"{field}data"
        )


@dataclass(frozen=True)
class EventItem:
    """One posted event for :func:`post_events`: who posted it, and what."""

    principal: Principal
    body: EventIn


def post_events(ctx: WriteContext, items: list[EventItem]) -> list[dict[str, Any]]:
    """Append the events posted together (the writer runs every ``POST /events`` of a batch
    through here, ``submit_bulk``), each answered as :func:`post_event` answers it. Anything
    wrong with one raises, and the writer then runs each alone, for its own answer or error."""
    if len(items) == 1:
        return [post_event(ctx, items[0].principal, items[0].body)]
    for item in items:
        check_client_event(item.body, "", item.principal)
    refuse_duplicates(
        ctx, [(i.principal.actor, i.body.id) for i in items if i.body.id is not None], "event"
    )
    appended = [
        ctx.append(
            item.body.type,
            item.principal.actor,
            item.body.subject,
            item.body.data,
            client_id=item.body.id,
        )
        for item in items
    ]
    return [ctx.seq_of(event.seq, event.as_dict()) for event in appended]


def post_event(ctx: WriteContext, principal: Principal, body: EventIn) -> dict[str, Any]:
    check_client_event(body, "", principal)
    if body.id is not None and ctx.recorded_client_ids([(principal.actor, body.id)]):
        raise Conflict(
            f"event id {body.id!r} was already recorded", field="id", code="duplicate_id"
        )
    event = ctx.append(body.type, principal.actor, body.subject, body.data, client_id=body.id)
    return ctx.seq_of(event.seq, event.as_dict())


def row_event(row: Any) -> Event:
    return Event(row.seq, row.ts, row.type, row.actor, row.subject, row.data)


def read_events(
    conn: Connection,
    *,
    after: int = 0,
    limit: int = 1_000,
    types: list[str] | None = None,
    subject: str | None = None,
    through: int | None = None,
) -> list[Event]:
    """Events after ``after`` in order, at most ``limit``; up to ``through`` if given."""
    query = select(E).where(E.c.seq > after).order_by(E.c.seq).limit(limit)
    if through is not None:
        query = query.where(E.c.seq <= through)
    if subject is not None:
        query = query.where(E.c.subject == subject)
    if types:
        exact = [t for t in types if not t.endswith(".*")]
        prefixes = [t[:-1] for t in types if t.endswith(".*")]
        # autoescape: '_' and '%' in a type are literal, not LIKE wildcards.
        matches = [E.c.type.startswith(p, autoescape=True) for p in prefixes]
        query = query.where(or_(E.c.type.in_(exact), *matches))
    return [row_event(r) for r in conn.execute(query)]


def list_events(conn: Connection, **filters: Any) -> list[dict[str, Any]]:
    return [e.as_dict() for e in read_events(conn, **filters)]
