"""Events posted together are appended together (``events.post_events``), on both back ends:
each answered with its own event, and one that cannot be appended answered with its own error
while the others are kept."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from mcos.contract.requests import EventIn
from mcos.errors import Conflict, InvalidInput
from mcos.fleet.schema import Fleet
from mcos.services.access import Principal
from mcos.services.events import EventItem, post_events
from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.writer import WriteContext, Writer, write_once


def posted(agent: str, n: int, *, id: str | None = None, type: str = "runtime.note") -> EventItem:
    body: dict[str, Any] = {"type": type, "subject": f"agent:{agent}", "data": {"n": n}}
    if id is not None:
        body["id"] = id
    return EventItem(Principal(kind="agent", name=agent), EventIn.model_validate(body))


def test_events_posted_together_each_get_their_own_answer_in_order(
    db: Database, fleet: Fleet
) -> None:
    donna, apex = fleet.agents[0].name, fleet.agents[1].name
    items = [posted(donna, 1, id="e-1"), posted(apex, 2), posted(donna, 3, id="e-2")]
    answers = write_once(db, lambda ctx: post_events(ctx, items))
    assert [(a["actor"], a["data"]["n"]) for a in answers] == [
        (f"agent:{donna}", 1),
        (f"agent:{apex}", 2),
        (f"agent:{donna}", 3),
    ]
    seqs = [a["seq"] for a in answers]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    with db.reading() as conn:
        stored = conn.execute(
            select(tables.events.c.seq, tables.events.c.client_id).where(
                tables.events.c.seq.in_(seqs)
            )
        ).all()
    assert sorted(stored) == [(seqs[0], "e-1"), (seqs[1], None), (seqs[2], "e-2")]


def test_an_event_that_cannot_be_appended_gets_its_own_error_and_the_others_are_kept(
    db: Database, fleet: Fleet
) -> None:
    donna, apex = fleet.agents[0].name, fleet.agents[1].name
    write_once(db, lambda ctx: post_events(ctx, [posted(donna, 0, id="seen")]))
    writer = Writer(db)
    writer.start()
    gate = threading.Event()
    hold = writer.submit_nowait(lambda ctx: gate.wait(10))  # what follows shares one batch

    def bulk(ctx: WriteContext, items: list[EventItem]) -> list[Any]:
        return post_events(ctx, items)

    submitted = [
        writer.submit_bulk_nowait(bulk, posted(apex, 1)),
        writer.submit_bulk_nowait(bulk, posted(donna, 2, id="seen")),
        writer.submit_bulk_nowait(bulk, posted(donna, 3, type="task.moved")),
        writer.submit_bulk_nowait(bulk, posted(donna, 4)),
    ]
    gate.set()
    hold.result(10)
    assert submitted[0].result(10)["data"] == {"n": 1}
    with pytest.raises(Conflict):
        submitted[1].result(10)
    with pytest.raises(InvalidInput):  # a type only the control plane writes
        submitted[2].result(10)
    assert submitted[3].result(10)["data"] == {"n": 4}
    writer.stop()
    with db.reading() as conn:
        notes = (
            conn.execute(select(tables.events.c.data).where(tables.events.c.type == "runtime.note"))
            .scalars()
            .all()
        )
    assert sorted(d["n"] for d in notes) == [0, 1, 4]
