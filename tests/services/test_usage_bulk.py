"""Usage reports that arrive together are recorded together (``budgets.record_usages``), on both
back ends: each answered as it would be alone, its agent's spend read after the batch, and a
report that cannot be recorded answered with its own error while the others are kept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from mcos.contract.requests import UsageIn
from mcos.domain import events as ev
from mcos.errors import Conflict, Forbidden
from mcos.fleet.schema import Fleet
from mcos.services.access import Principal
from mcos.services.budgets import UsageItem, record_usages, spent
from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.writer import WriteContext, Writer, write_once

MODEL = "claude-sonnet-4-5"


def usage(agent: str, tokens: int, *, id: str | None = None, sender: str = "") -> UsageItem:
    body: dict[str, Any] = {"model": MODEL, "input_tokens": tokens, "output_tokens": 10}
    if id is not None:
        body["id"] = id
    principal = Principal(kind="agent", name=sender or agent)
    return UsageItem(principal, agent, UsageIn.model_validate(body))


def test_reports_recorded_together_are_each_answered_with_their_agents_spend(
    db: Database, fleet: Fleet
) -> None:
    donna, apex, vega = (fleet.agents[i].name for i in range(3))
    items = [
        usage(donna, 100, id="u-1"),
        usage(apex, 200),
        usage(donna, 300, id="u-2"),
        usage(vega, 400, id="u-3"),
    ]
    answers = write_once(db, lambda ctx: record_usages(ctx, fleet, items))
    assert [a["input_tokens"] for a in answers] == [100, 200, 300, 400]
    assert [a["agent"] for a in answers] == [donna, apex, donna, vega]
    assert all(not a["paused"] for a in answers)
    with db.reading() as conn:
        for answer in answers:
            assert (
                answer["spent"]["daily_tokens"]
                == spent(conn, fleet, answer["agent"], datetime.now(UTC))["daily_tokens"]
            )
        assert answers[0]["spent"]["daily_tokens"] == 100 + 10 + 300 + 10
        rows = conn.execute(select(func.count()).select_from(tables.usage)).scalar()
        recorded = (
            conn.execute(
                select(tables.events.c.client_id)
                .where(tables.events.c.type == ev.USAGE_RECORDED)
                .order_by(tables.events.c.seq)
            )
            .scalars()
            .all()
        )
    assert rows == 4
    assert sorted(r for r in recorded if r) == ["u-1", "u-2", "u-3"]


def test_crossing_the_budget_together_pauses_the_agent_once(db: Database, fleet: Fleet) -> None:
    name = fleet.agents[0].name
    items = [usage(name, 2_000_000), usage(name, 2_000_000)]  # $6 each, over any daily budget
    answers = write_once(db, lambda ctx: record_usages(ctx, fleet, items))
    assert [a["paused"] for a in answers] == [True, True]
    with db.reading() as conn:
        row = conn.execute(select(tables.agents).where(tables.agents.c.name == name)).one()
        pauses = conn.execute(
            select(func.count())
            .select_from(tables.events)
            .where(tables.events.c.type == ev.BUDGET_EXCEEDED)
        ).scalar()
    assert row.paused and pauses == 1


def test_a_report_that_cannot_be_recorded_gets_its_own_error_and_the_others_are_kept(
    db: Database, fleet: Fleet
) -> None:
    donna, apex = fleet.agents[0].name, fleet.agents[1].name
    write_once(db, lambda ctx: record_usages(ctx, fleet, [usage(donna, 1, id="seen")]))
    with pytest.raises(Conflict):  # together, one bad report fails them all ...
        write_once(
            db,
            lambda ctx: record_usages(ctx, fleet, [usage(apex, 5), usage(donna, 1, id="seen")]),
        )
    writer = Writer(db)
    writer.start()
    gate = threading.Event()
    hold = writer.submit_nowait(lambda ctx: gate.wait(10))  # what follows shares one batch

    def bulk(ctx: WriteContext, items: list[UsageItem]) -> list[Any]:
        return record_usages(ctx, fleet, items)

    submitted = [
        writer.submit_bulk_nowait(bulk, usage(apex, 5, id="fresh")),
        writer.submit_bulk_nowait(bulk, usage(donna, 1, id="seen")),
        writer.submit_bulk_nowait(bulk, usage(donna, 7, sender=apex)),
        writer.submit_bulk_nowait(bulk, usage(donna, 9)),
    ]
    gate.set()
    hold.result(10)
    # ... and the writer then runs each alone: each gets its own answer or error.
    assert submitted[0].result(10)["input_tokens"] == 5
    with pytest.raises(Conflict):
        submitted[1].result(10)
    with pytest.raises(Forbidden):
        submitted[2].result(10)
    assert submitted[3].result(10)["spent"]["daily_tokens"] == 1 + 10 + 9 + 10
    writer.stop()
    with db.reading() as conn:
        assert conn.execute(select(func.count()).select_from(tables.usage)).scalar() == 3
