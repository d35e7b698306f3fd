"""Schedules end to end: fired once per due time, missed runs reported after downtime, a
scheduled task never started flagged, and the API and CLI over them.

Downtime is simulated by moving a schedule's cursor back while the server is down: exactly
what the database holds after the server was off since then.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine, update

from mcos.fleet.loader import load_fleet
from mcos.storage import tables
from tests.fixtures.server import Server, error_of, init_here, mcos_env

SETTINGS = {"MCOS_SCHEDULE_TICK_SECONDS": "0.2"}
MINUTELY = """
[[schedules]]
name = "minutely"
cron = "* * * * *"
timezone = "UTC"
action = "task"
title = "Minute check"
assignee = "donna"
kind = "email-triage"
start_within_minutes = 0.05
"""


@pytest.fixture
def scheduled(tmp_path: Path, database_url: str) -> Iterator[Server]:
    env = mcos_env(tmp_path) | {"MCOS_DATABASE_URL": database_url} | SETTINGS
    fleet_dir = tmp_path / "fleet"
    init_here(fleet_dir, env)
    path = fleet_dir / "fleet.toml"
    path.write_text(path.read_text() + MINUTELY)
    srv = Server(fleet_dir, database_url, env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def events_of(operator: httpx.Client, types: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = operator.get(
        "/api/v1/events", params={"types": types, "limit": 5000, **params}
    ).json()["events"]
    return found


def wait_for(operator: httpx.Client, types: str, ok: Any, seconds: float = 20) -> list[Any]:
    deadline = time.monotonic() + seconds
    found = events_of(operator, types)
    while time.monotonic() < deadline and not ok(found):
        time.sleep(0.2)
        found = events_of(operator, types)
    assert ok(found), found
    return found


def rewind(server: Server, name: str, to: datetime) -> None:
    engine = create_engine(server.database_url)
    with engine.begin() as conn:
        done = conn.execute(
            update(tables.schedules).where(tables.schedules.c.name == name).values(cursor_at=to)
        )
        assert done.rowcount == 1
    engine.dispose()


def by_name(operator: httpx.Client) -> dict[str, Any]:
    listed = operator.get("/api/v1/schedules")
    assert listed.status_code == 200, listed.text
    return {s["name"]: s for s in listed.json()["schedules"]}


def test_schedules_fire_once_report_missed_runs_and_flag_tasks_never_started(
    scheduled: Server,
) -> None:
    server = scheduled
    with server.client() as operator, server.agent("donna") as donna:
        deadline = time.monotonic() + 10
        while (
            time.monotonic() < deadline and by_name(operator)["minutely"]["registered_at"] is None
        ):
            time.sleep(0.2)
        listed = by_name(operator)
        assert list(listed) == [
            "inbox-digest",
            "morning-briefing",
            "memory-rollover",
            "night-service-check",
            "minutely",
        ]
        digest = listed["inbox-digest"]
        assert (digest["cron"], digest["timezone"]) == ("0 7 * * *", "Africa/Johannesburg")
        assert digest["next_run"].endswith("T07:00:00+02:00")
        assert digest["action"]["assignee"] == "donna" and digest["action"]["action"] == "task"
        assert listed["minutely"]["next_run"].endswith("+00:00")
        assert listed["minutely"]["missed"] == 0

        # Bad callers get the one error shape.
        refused = donna.get("/api/v1/schedules")
        assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
        refused = donna.post("/api/v1/schedules/minutely/run")
        assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
        unknown = operator.post("/api/v1/schedules/minutly/run")
        assert unknown.status_code == 404
        assert error_of(unknown)["field"] == "name" and "minutely" in error_of(unknown)["message"]

        # The control plane was down for two and a half minutes.
        server.kill()
        down_since = datetime.now(UTC) - timedelta(seconds=150)
        rewind(server, "minutely", down_since)
        server.start()
        fired = wait_for(
            operator,
            "schedule.fired",
            lambda f: any(e["data"]["schedule"] == "minutely" for e in f),
        )
        first = next(e for e in fired if e["data"]["schedule"] == "minutely")["data"]
        due = datetime.fromisoformat(first["due_at"])
        assert first["trigger"] == "cron" and first["assignee"] == "donna"
        # Only the newest missed run fired; every earlier one is listed in one event.
        expected = []
        minute = due - timedelta(minutes=1)
        while minute > down_since:
            expected.insert(0, minute)
            minute -= timedelta(minutes=1)
        [missed] = events_of(operator, "schedule.missed")
        assert missed["data"]["schedule"] == "minutely"
        assert [datetime.fromisoformat(t) for t in missed["data"]["due_times"]] == expected
        assert missed["data"]["count"] == len(expected) >= 1
        assert by_name(operator)["minutely"]["missed"] == len(expected)

        # The task it created was never started: flagged once, and Donna's supervisor is told.
        flagged = wait_for(
            operator,
            "schedule.not_started",
            lambda f: any(e["data"]["task"] == first["task"] for e in f),
        )
        note = next(e for e in flagged if e["data"]["task"] == first["task"])["data"]
        assert note["told"] == ["jarvis"] and note["status"] == "assigned"
        told = events_of(operator, "message.sent", subject="agent:jarvis")
        assert any(m["data"]["task_id"] == first["task"] for m in told)

        # Another restart fires nothing twice, and no task is flagged twice.
        server.kill()
        server.start()
        time.sleep(1.5)
        fired = [
            e["data"]
            for e in events_of(operator, "schedule.fired")
            if e["data"]["schedule"] == "minutely"
        ]
        assert len({f["due_at"] for f in fired}) == len(fired)
        flagged = [e["data"]["task"] for e in events_of(operator, "schedule.not_started")]
        assert len(set(flagged)) == len(flagged)
        assert len(events_of(operator, "schedule.missed")) == 1

        # Run one now, by the API and by the CLI; each is recorded as a run.
        run = operator.post("/api/v1/schedules/memory-rollover/run")
        assert run.status_code == 200, run.text
        rollover = run.json()
        assert rollover["trigger"] == "manual" and len(rollover["nudged"]) == 23
        assert rollover["memory_file"] == f"memory/{rollover['day']}.md"
        cli = server.mcos("schedules", "run", "night-service-check")
        assert cli.stdout.startswith("ran night-service-check (run ")
        assert cli.stdout.strip().endswith("nudged elon")
        nudged = events_of(operator, "agent.nudged", subject="agent:elon")
        assert "check the 9 services on velo" in nudged[-1]["data"]["reason"]
        briefing = server.mcos("schedules", "run", "morning-briefing", "--json")
        assert '"assignee": "jarvis"' in briefing.stdout
        task = operator.get(f"/api/v1/tasks/{json.loads(briefing.stdout)['task']}")
        assert task.json()["kind"] == "briefing" and task.json()["assignee"] == "jarvis"
        listed = by_name(operator)
        assert listed["night-service-check"]["last_run"]["trigger"] == "manual"
        assert listed["morning-briefing"]["last_run"]["outcome"] == "assigned"
        missing = server.mcos("schedules", "run", "nope", check=False)
        assert missing.returncode == 1 and "no schedule named 'nope'" in missing.stderr
        table = server.mcos("schedules", "ls").stdout
        assert "minutely" in table and "MISSED" in table and "0 7 * * *" in table

        # The briefing lists what is still due today and what went wrong.
        brief = operator.get("/api/v1/briefing").json()
        assert brief["schedule_attention"]["missed"] == [
            {"schedule": "minutely", "count": len(expected)}
        ]
        assert first["task"] in [t["task"] for t in brief["schedule_attention"]["not_started"]]
        assert "## Schedules needing attention" in brief["markdown"]
        # "Today" ends at the fleet's midnight (Africa/Johannesburg), on the briefing's own
        # clock: the next 24 minutes, fewer near midnight, none in the day's last minute.
        now = datetime.fromisoformat(brief["generated_at"])
        zone = ZoneInfo(load_fleet(server.fleet_dir / "fleet.toml").fleet.timezone)
        local = now.astimezone(zone)
        midnight = datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
        this_minute = now.replace(second=0, microsecond=0)
        minutes = [this_minute + timedelta(minutes=m) for m in range(1, 25)]
        still_due = [
            datetime.fromisoformat(r["due_at"])
            for r in brief["scheduled_today"]
            if r["schedule"] == "minutely"
        ]
        assert still_due == [m for m in minutes if m < midnight], brief["generated_at"]
        assert ("minutely (task)" in brief["markdown"]) == bool(still_due)
