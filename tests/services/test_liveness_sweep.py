"""The liveness sweep reads only the agents whose liveness could have changed, and leaves every
agent as deriving its liveness from its row would: the same answer as reading them all."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from mcos.fleet.schema import Fleet
from mcos.services.agents import row_liveness, sweep_liveness
from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.writer import WriteContext, write_once

A = tables.agents


def test_the_sweep_leaves_every_agent_as_its_row_derives(db: Database, fleet: Fleet) -> None:
    names = [agent.name for agent in fleet.agents]
    now = datetime.now(UTC)
    quiet = fleet.shortest_silence_seconds
    pick = random.Random(17)
    silences = [None, 1, quiet - 5, quiet + 5, 10 * quiet, 100 * quiet]
    cooldowns = [None, None, now - timedelta(minutes=1), now + timedelta(minutes=5)]
    states = ["working", "idle", "compacting", "stalled", "offline", "suspended", "cooling_down"]
    rows = []
    for name in names:
        silence = pick.choice(silences)
        rows.append(
            {
                "name": name,
                "last_heartbeat_at": None if silence is None else now - timedelta(seconds=silence),
                "reported_status": pick.choice(["working", "idle", "compacting", None]),
                "liveness": pick.choice(states),
                "paused": pick.random() < 0.15,
                "cooldown_until": pick.choice(cooldowns),
            }
        )

    def arrange(ctx: WriteContext) -> None:
        for row in rows:
            ctx.conn.execute(update(A).where(A.c.name == row["name"]).values(**row))

    write_once(db, arrange)
    changed = write_once(db, lambda ctx: sweep_liveness(ctx, fleet))
    assert changed > 0, "the arrangement left something for the sweep to change"
    with db.reading() as conn:
        after = conn.execute(select(A).where(A.c.active.is_(True))).all()
    # Derived at the sweep's moment or a little later: the same for these silences.
    for row in after:
        derived = row_liveness(fleet, row, now)
        assert row.liveness == derived.value, row.name
    assert write_once(db, lambda ctx: sweep_liveness(ctx, fleet)) == 0, "nothing left to change"
