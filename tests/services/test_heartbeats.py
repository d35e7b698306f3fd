"""A batch of heartbeats for the whole fleet, in one unit, on both back ends: every agent's row
ends as its last heartbeat left it, and every answer carries that agent's own work.

On PostgreSQL the batch writes all the agents' rows in one statement and reads the answers in a
pipeline (``storage.together``); on SQLite one row and one query at a time. Both must agree.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from mcos.contract.requests import HeartbeatIn, MessageIn, TaskCreate
from mcos.errors import Conflict
from mcos.fleet.schema import Fleet
from mcos.services.access import Principal
from mcos.services.heartbeats import HeartbeatItem, record_heartbeats
from mcos.services.messages import send_message
from mcos.services.tasks import create_task
from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.writer import write_once

OPERATOR = Principal(kind="operator", name="owner")


def heartbeat(agent: str, **body: Any) -> HeartbeatItem:
    return HeartbeatItem(agent, HeartbeatIn.model_validate(body), f"agent:{agent}")


def test_a_batch_for_the_whole_fleet_leaves_each_agent_its_own_last_heartbeat(
    db: Database, fleet: Fleet
) -> None:
    names = [agent.name for agent in fleet.agents]
    assert len(names) > 20, "the template fleet: a batch of many agents"
    directed, other = names[0], names[1]
    task = write_once(
        db, lambda ctx: create_task(ctx, OPERATOR, TaskCreate(title="triage", assignee=directed))
    )
    note = write_once(
        db,
        lambda ctx: send_message(
            ctx, fleet, OPERATOR, MessageIn(to=directed, kind="directive", body="start now")
        ),
    )
    assert note is not None
    # Every agent three times, interleaved; the second agent acknowledges the message.
    items = [
        heartbeat(
            name,
            status="working" if round_ < 2 else "idle",
            context_tokens=1_000 * (index + 1) + round_,
            note=f"{name} round {round_}",
            ack_messages_through=note["id"] if name == other else None,
        )
        for round_ in range(3)
        for index, name in enumerate(names)
    ]
    answers = write_once(db, lambda ctx: record_heartbeats(ctx, fleet, items))

    A = tables.agents
    with db.reading() as conn:
        rows = {row.name: row for row in conn.execute(select(A))}
    for index, name in enumerate(names):
        row = rows[name]
        assert (row.reported_status, row.context_tokens, row.note, row.heartbeats) == (
            "idle",
            1_000 * (index + 1) + 2,
            f"{name} round 2",
            3,
        ), f"{name}'s row is its own last heartbeat, counted three times"
        assert row.message_cursor == (note["id"] if name == other else 0)
    assert len(answers) == len(items)
    mine = [a for a in answers if a["agent"] == directed]
    assert [t["id"] for t in mine[0]["tasks"]] == [task["id"]], "its task, and only to it"
    assert [m["body"] for m in mine[0]["directives"]] == ["start now"]
    assert all(not a["tasks"] and not a["directives"] for a in answers if a["agent"] != directed)
    assert {a["message_cursor"] for a in answers if a["agent"] == other} == {note["id"]}
    assert mine[0]["directives"][0]["ts"].endswith("+00:00"), "timestamps read back in UTC"
    assert [a["seq"] for a in answers] == sorted(a["seq"] for a in answers), "numbered in order"


def test_a_heartbeat_id_already_recorded_refuses_its_batch_and_records_nothing(
    db: Database, fleet: Fleet
) -> None:
    first, second = (agent.name for agent in fleet.agents[:2])
    write_once(db, lambda ctx: record_heartbeats(ctx, fleet, [heartbeat(first, id="hb-1")]))
    again = [heartbeat(second, id="hb-2", note="fresh"), heartbeat(first, id="hb-1")]
    with pytest.raises(Conflict) as refused:
        write_once(db, lambda ctx: record_heartbeats(ctx, fleet, again))
    assert (refused.value.code, refused.value.field) == ("duplicate_id", "id")
    A, E = tables.agents, tables.events
    with db.reading() as conn:
        counts = dict(conn.execute(select(A.c.name, A.c.heartbeats)).all())
        ids = sorted(
            conn.execute(select(E.c.client_id).where(E.c.client_id.is_not(None))).scalars()
        )
    assert (counts[first], counts[second]) == (1, 0), "the refused batch left no row changed"
    assert ids == ["hb-1"], "and no event of it"
