"""``mcos db archive``: old high-volume events move to a file; what the operator sees stays."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import bindparam, create_engine, func, select, update

from mcos.client import AsyncClient
from mcos.contract.agent import Event
from mcos.services.event_archive import ARCHIVED_TYPES, KEPT_HEARTBEATS
from mcos.storage import tables
from tests.fixtures.server import Server, running_server

E = tables.events
EXEC = {"kind": "shell.exec", "command": "npm run build", "paths": ["/srv/fibreflow/staging"]}
MAKE = {"kind": "shell.exec", "command": "make"}


def age_every_event(url: str, days: int) -> None:
    """Make the log as it would be after ``days`` of running: every event that much older."""
    engine = create_engine(url)
    with engine.begin() as conn:
        rows = conn.execute(select(E.c.seq, E.c.ts)).all()
        conn.execute(
            update(E).where(E.c.seq == bindparam("at")).values(ts=bindparam("when")),
            [{"at": r.seq, "when": r.ts - timedelta(days=days)} for r in rows],
        )
    engine.dispose()


def event_count(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(E)).scalar_one())
    engine.dispose()
    return count


def what_the_operator_sees(server: Server, task_ids: list[int]) -> dict[str, Any]:
    with server.client() as operator:
        snapshot = operator.get("/api/v1/dashboard/snapshot").json()
        pages = {
            name: operator.get(f"/api/v1/dashboard/agents/{name}").json()
            for name in ("donna", "flow", "elon")
        }
        series = operator.get("/api/v1/dashboard/series", params={"hours": 24 * 31}).json()
        briefing = operator.get("/api/v1/briefing", params={"hours": 24 * 31}).json()
        histories = {
            task_id: [
                (e["seq"], e["type"])
                for e in operator.get(
                    "/api/v1/events", params={"subject": f"task:{task_id}"}
                ).json()["events"]
            ]
            for task_id in task_ids
        }
    for page in pages.values():
        page["agent"] = steady(page["agent"])
    snapshot["agents"] = [steady(a) for a in snapshot["agents"]]
    for moving in ("last_seq", "now", "health"):  # the clock, and the archive's own marker
        snapshot.pop(moving)
    return {
        "snapshot": snapshot,
        "pages": pages,
        "series": series,
        "briefing": {
            k: without_the_clock(v) if k in {"markdown", "data_markdown"} else v
            for k, v in briefing.items()
            if k not in {"generated_at", "since"}
        },
        "histories": histories,
    }


async def first_event_after(server: Server, after: int) -> Event:
    async def first() -> Event:
        async with AsyncClient(server.url, server.operator_token) as operator:
            async for event in operator.stream(after=after):
                return event
        raise AssertionError("the stream ended without an event")

    # Bounded: a client that kept resuming from before the horizon would resync forever.
    return await asyncio.wait_for(first(), timeout=60)


def without_the_clock(markdown: str | None) -> str | None:
    """The briefing's text without its "to 2026-12-06 19:04 UTC" line: two reads a minute
    apart say different minutes, archive or not."""
    if markdown is None:
        return None
    return "\n".join(line for line in markdown.splitlines() if not line.startswith("The last "))


def steady(agent: dict[str, Any]) -> dict[str, Any]:
    """An agent's card without what moves with the clock alone (seconds since, liveness)."""
    return {k: v for k, v in agent.items() if "seconds" not in k and k != "liveness"}


def test_archive_moves_old_events_and_keeps_every_view(database_url: str, tmp_path: Path) -> None:
    with running_server(tmp_path, database_url) as server:
        with server.client() as operator:
            task_ids = []
            for title in ("Reconcile the ledger", "Renew the domain"):
                made = operator.post("/api/v1/tasks", json={"title": title, "assignee": "donna"})
                assert made.status_code == 201, made.text
                task_ids.append(made.json()["id"])
            moved = operator.post(
                f"/api/v1/tasks/{task_ids[0]}/move", json={"status": "in_progress"}
            )
            assert moved.status_code == 200, moved.text
        with (
            server.agent("donna") as donna,
            server.agent("flow") as flow,
            server.agent("elon") as elon,
        ):
            for n in range(KEPT_HEARTBEATS + 60):
                beat = donna.post(
                    "/api/v1/agents/donna/heartbeat",
                    json={"status": "working", "context_tokens": 1_000 + n},
                )
                assert beat.status_code == 200, beat.text
            for _ in range(3):
                assert flow.post("/api/v1/actions", json=EXEC).status_code == 403
                assert elon.post("/api/v1/actions", json=MAKE).status_code == 200
    age_every_event(database_url, days=40)
    server.start()
    try:
        seen_before = what_the_operator_sees(server, task_ids)
        count_before = event_count(database_url)
        archive = tmp_path / "archive" / "events-old.jsonl.gz"
        cutoff = (datetime.now(UTC) - timedelta(days=35)).date().isoformat()
        done = server.mcos(
            "db", "archive", "--fleet", str(server.fleet_dir), "--before", cutoff,
            "--to", str(archive), "--json",
        )  # fmt: skip
        result = orjson.loads(done.stdout)
        seen_after = what_the_operator_sees(server, task_ids)
        count_after = event_count(database_url)
        with httpx.stream(
            "GET",
            server.url + "/api/v1/stream",
            headers={"Authorization": f"Bearer {server.operator_token}", "Last-Event-ID": "1"},
            timeout=30,
        ) as stream:
            first_frame = []
            for line in stream.iter_lines():
                if not line:
                    break
                first_frame.append(line)
        resumed = asyncio.run(first_event_after(server, 1))
    finally:
        server.stop()

    assert seen_after == seen_before, "the dashboard, briefing and task histories are unchanged"
    with gzip.open(archive) as handle:
        moved = [orjson.loads(line) for line in handle]
    assert len(moved) == result["moved"] > KEPT_HEARTBEATS // 4
    assert {e["type"] for e in moved} <= ARCHIVED_TYPES
    assert {"agent.heartbeat", "policy.decided"} <= {e["type"] for e in moved}
    assert all(e["data"].get("outcome") == "allow" for e in moved if e["type"] == "policy.decided")
    assert count_after == count_before - len(moved) + 1, "moved out, plus the archive's marker"
    assert f"id: {result['through_seq']}" in first_frame
    assert "event: stream.resync" in first_frame
    assert resumed.type == "events.archived", "mcos.client went on from the archive horizon"
    assert resumed.seq > result["through_seq"]


def test_archive_refuses_a_recent_date_and_needs_a_date(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with running_server(tmp_path, url) as server:
        fleet = str(server.fleet_dir)
        to = str(tmp_path / "a.jsonl.gz")
        recent = datetime.now(UTC).date().isoformat()
        too_new = server.mcos("db", "archive", "--fleet", fleet, "--before", recent, "--to", to,
                              check=False)  # fmt: skip
        assert too_new.returncode != 0 and "(field: --before)" in too_new.stderr
        undated = server.mcos("db", "archive", "--fleet", fleet, "--to", to, check=False)
        assert undated.returncode != 0 and "MCOS_EVENT_RETENTION_DAYS" in undated.stderr
        bad = server.mcos("db", "archive", "--fleet", fleet, "--before", "soon", "--to", to,
                          check=False)  # fmt: skip
        assert bad.returncode != 0 and "--before" in bad.stderr
        assert not Path(to).exists()
