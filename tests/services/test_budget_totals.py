"""Budgets read running totals: the figures shown equal the sum of the usage rows, exactly, in
any time zone, after duplicates, a migration, an archive and a backup, on both back ends."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from mcos.contract.requests import UsageIn
from mcos.errors import Conflict
from mcos.fleet.schema import Fleet
from mcos.services import budgets, usage_totals
from mcos.services.access import Principal
from mcos.services.agents import sync_fleet
from mcos.services.event_archive import archive_events
from mcos.storage import backup, tables
from mcos.storage.database import ClientIdsRecorded, Database
from mcos.storage.migrations import alembic_config
from mcos.storage.writer import WriteContext
from tests.fixtures.database import own_postgres_database

T = TypeVar("T")
U, UT = tables.usage, tables.usage_totals
AGENTS = ("donna", "flow", "pulse", "scout")
ZONES = (
    "Africa/Johannesburg",  # the fleet's own: +02:00
    "UTC",
    "Asia/Kathmandu",  # +05:45: midnight on a quarter-hour
    "America/St_Johns",  # -03:30, with summer time
    "Pacific/Chatham",  # +13:45 / +12:45
)
START = datetime(2026, 10, 28, 21, 0, tzinfo=UTC)
"""Four days before 1 November in Johannesburg (22:00 UTC): the run crosses a month."""


@pytest.fixture
def db(database_url: str, fleet: Fleet) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    write_at(database, START, lambda ctx: sync_fleet(ctx, fleet))
    yield database
    database.dispose()


def write_at(db: Database, now: datetime, unit: Callable[[WriteContext], T]) -> T:
    """Run ``unit`` as the writer does, in its own transaction, with its clock at ``now``."""
    with db.batch_connection() as conn, conn.begin():
        ctx = WriteContext(conn, now, db.begin_batch(conn))
        result = unit(ctx)
        ctx.flush()
        db.commit_batch(conn, ctx.rows)
    return result


def report(
    db: Database, fleet: Fleet, at: datetime, agent: str, body: dict[str, Any]
) -> dict[str, Any]:
    principal = Principal(kind="agent", name=agent)
    return write_at(
        db,
        at,
        lambda ctx: budgets.record_usage(
            ctx, fleet, principal, agent, UsageIn.model_validate(body)
        ),
    )


def in_zone(fleet: Fleet, zone: str) -> Fleet:
    return fleet.model_copy(update={"fleet": fleet.fleet.model_copy(update={"timezone": zone})})


def from_rows(db: Database, since: datetime) -> dict[str, dict[str, Any]]:
    """A fresh sum over the usage rows from ``since`` on, in Python: exact by construction."""
    out: dict[str, dict[str, Any]] = {}
    with db.reading() as conn:
        for row in conn.execute(select(U).where(U.c.ts >= since)):
            used = out.setdefault(row.agent, {"usd": Decimal(0), "tokens": 0})
            used["usd"] += Decimal(row.cost_usd)
            used["tokens"] += (
                row.input_tokens
                + row.output_tokens
                + row.cache_read_tokens
                + row.cache_write_tokens
            )
    return out


def by_the_old_query(db: Database, since: datetime) -> dict[str, tuple[Decimal, int]]:
    """The aggregate the budget check ran before the totals, as it ran it."""
    tokens = U.c.input_tokens + U.c.output_tokens + U.c.cache_read_tokens + U.c.cache_write_tokens
    query = (
        select(U.c.agent, func.sum(U.c.cost_usd), func.sum(tokens))
        .where(U.c.ts >= since)
        .group_by(U.c.agent)
    )
    with db.reading() as conn:
        return {
            agent: (Decimal(cost).quantize(usage_totals.MICRO), int(count))
            for agent, cost, count in conn.execute(query)
        }


def assert_totals_match_the_rows(db: Database, fleet: Fleet, now: datetime) -> int:
    """For every zone: what the budget check, the usage page and the model table show equals
    a fresh sum over the rows. Returns how many agent-periods had spend (so a test can tell
    it compared something)."""
    compared = 0
    for zone in ZONES:
        zoned = in_zone(fleet, zone)
        day, month = budgets.period_starts(zoned, now)
        with db.reading() as conn:
            shown = budgets.spent_by_agent(conn, zoned, now, list(AGENTS))
            summary = budgets.usage_summary(conn, zoned, now)
        for label, since in (("daily", day), ("monthly", month)):
            fresh, old = from_rows(db, since), by_the_old_query(db, since)
            for agent in AGENTS:
                want = fresh.get(agent, {"usd": Decimal(0), "tokens": 0})
                got = (shown[agent][f"{label}_usd"], shown[agent][f"{label}_tokens"])
                assert got == (want["usd"], want["tokens"]), (zone, label, agent, got, want)
                assert isinstance(got[0], Decimal), "money stays exact"
                if agent in old:
                    assert old[agent] == got, f"the old query agrees ({zone}, {label}, {agent})"
                compared += want["tokens"] > 0
        month_calls = sum(m["calls"] for m in summary["models_this_month"])
        with db.reading() as conn:
            rows = conn.execute(select(func.count()).select_from(U).where(U.c.ts >= month))
            assert month_calls == rows.scalar_one(), f"every call of the month once ({zone})"
    return compared


def test_totals_equal_a_fresh_sum_of_the_rows_after_a_mixed_run(db: Database, fleet: Fleet) -> None:
    """Reports at random times across a month's turn (and each zone's midnights), several
    models, single and several-call writes, retried ids: at every moment the figures are the
    rows' sum, in every time zone — a zone change in the fleet file needs no rebuild."""
    rng = random.Random(17)
    at, ids = START, []
    for i in range(160):
        at += timedelta(minutes=rng.choice((1, 7, 14, 15, 29, 45, 61, 180)), seconds=rng.random())
        agent = rng.choice(AGENTS)
        body: dict[str, Any] = {
            "input_tokens": rng.randrange(0, 40_000),
            "output_tokens": rng.randrange(0, 4_000),
            "cache_read_tokens": rng.choice((0, rng.randrange(50_000))),
            "cache_write_tokens": rng.choice((0, rng.randrange(5_000))),
            "model": rng.choice(("claude-sonnet-4-6", "claude-haiku-4-5")),
        }
        if i % 3 == 0:
            body["id"] = f"u-{i}"
        if i % 10 == 9 and ids:  # a retried report: refused, counted once
            again, client_id = rng.choice(ids)
            with pytest.raises(Conflict):
                report(db, fleet, at, again, body | {"id": client_id})
            continue
        if i % 7 == 0:  # several calls in one write, as an OTLP export records them
            row = write_at(db, at, lambda ctx, a=agent: budgets.agent_row(ctx.conn, a))
            calls = [
                (budgets.Call(model=body["model"], input_tokens=n, output_tokens=n // 9), cost)
                for n, cost in ((1_234, Decimal("0.0012345678")), (98_765, Decimal("0.3")))
            ]
            write_at(db, at, lambda ctx, r=row, c=calls: budgets.record_calls(ctx, "otlp", r, c))
            continue
        report(db, fleet, at, agent, body)
        if "id" in body:
            ids.append((agent, body["id"]))
        if i % 20 == 0:
            assert assert_totals_match_the_rows(db, fleet, at) > 0
    assert at.month == 11, "the run crossed into November"
    assert assert_totals_match_the_rows(db, fleet, at) > 0
    with db.reading() as conn:
        kept = conn.execute(select(func.sum(UT.c.calls)).where(UT.c.grain == "day")).scalar()
        rows = conn.execute(select(func.count()).select_from(U)).scalar_one()
    assert kept == rows, "each row is in the totals exactly once per grain"


def test_usage_counts_in_the_period_it_was_recorded_in(db: Database, fleet: Fleet) -> None:
    """A report delivered just after midnight for a call made just before counts today: a row
    is dated when the control plane records it, as the aggregate over rows always counted it."""
    zone = ZoneInfo(fleet.fleet.timezone)
    midnight = datetime(2026, 11, 3, tzinfo=zone).astimezone(UTC)
    call = {"input_tokens": 10_000, "output_tokens": 1_000}
    report(db, fleet, midnight - timedelta(seconds=1), "donna", call)
    late = report(db, fleet, midnight + timedelta(milliseconds=1), "donna", call)
    day_tokens = late["spent"]["daily_tokens"]
    assert day_tokens == 11_000, "only the report recorded after midnight is today's"
    assert late["spent"]["monthly_tokens"] == 22_000
    assert assert_totals_match_the_rows(db, fleet, midnight + timedelta(hours=1)) > 0
    # The new month starts over the same way, at the fleet's midnight, not UTC's.
    month = datetime(2026, 12, 1, tzinfo=zone).astimezone(UTC)
    early = report(db, fleet, month + timedelta(seconds=1), "donna", call)
    assert early["spent"]["monthly_tokens"] == 11_000


def test_a_duplicate_report_is_counted_once(db: Database, fleet: Fleet) -> None:
    at = START + timedelta(hours=1)
    body = {"id": "call-1", "input_tokens": 5_000, "output_tokens": 500}
    first = report(db, fleet, at, "flow", body)
    with pytest.raises(Conflict):
        report(db, fleet, at, "flow", body)
    # Two replicas that both pass the check before either commits: the second transaction
    # fails on the unique id (on PostgreSQL the commit's event insert finds it:
    # ClientIdsRecorded, and the writer would run the batch again) and takes its increment of
    # the totals with it.
    row = write_at(db, at, lambda ctx: budgets.agent_row(ctx.conn, "flow"))
    call = budgets.Call(model=row.model, input_tokens=5_000, output_tokens=500, client_id="call-1")
    with pytest.raises((SAIntegrityError, ClientIdsRecorded)):
        write_at(
            db, at, lambda ctx: budgets.record_calls(ctx, "agent:flow", row, [(call, Decimal(1))])
        )
    with db.reading() as conn:
        used = budgets.spent(conn, fleet, "flow", at)
    assert used["daily_tokens"] == first["spent"]["daily_tokens"] == 5_500
    assert assert_totals_match_the_rows(db, fleet, at) > 0


def test_the_migration_fills_the_totals_from_existing_rows(db: Database, fleet: Fleet) -> None:
    """0013 on a database with usage gives the totals the running increments gave."""
    at = START
    for i in range(40):
        at += timedelta(minutes=37 * i + 1)
        report(db, fleet, at, AGENTS[i % 4], {"input_tokens": 1_000 + i, "output_tokens": i})
    with db.reading() as conn:
        running = sorted(map(tuple, conn.execute(select(UT))))
    assert len(running) > 40
    with db.write_engine.connect() as conn:
        command.downgrade(alembic_config(db.write_engine, conn), "0012")
        conn.commit()
    db.migrate()
    with db.reading() as conn:
        filled = sorted(map(tuple, conn.execute(select(UT))))
    assert filled == running
    assert assert_totals_match_the_rows(db, fleet, at) > 0


def test_archiving_old_events_leaves_the_totals(db: Database, fleet: Fleet, tmp_path: Path) -> None:
    """``mcos db archive`` moves old ``usage.recorded`` events, never usage rows: this month's
    spend is what it was."""
    zone = ZoneInfo(fleet.fleet.timezone)
    day = datetime.now(zone).replace(hour=1, minute=0, second=0, microsecond=0)
    long_ago = (day - timedelta(days=60)).astimezone(UTC)
    for i in range(5):
        report(
            db,
            fleet,
            long_ago + timedelta(minutes=i),
            "scout",
            {"input_tokens": 900, "output_tokens": 9},
        )
    now = long_ago + timedelta(hours=1)
    with db.reading() as conn:
        before = budgets.spent(conn, fleet, "scout", now)
    moved = archive_events(db, now, tmp_path / "old.jsonl.gz", actor="operator:test")
    assert moved.moved >= 5, "the usage events went to the file"
    with db.reading() as conn:
        assert budgets.spent(conn, fleet, "scout", now) == before
    assert before["monthly_tokens"] == 5 * 909
    assert assert_totals_match_the_rows(db, fleet, now) > 0


def test_a_restored_backup_has_the_totals_of_its_rows(
    db: Database, fleet: Fleet, tmp_path: Path
) -> None:
    at = START + timedelta(hours=3)
    for agent in AGENTS:
        report(db, fleet, at, agent, {"input_tokens": 2_000, "output_tokens": 200})
    with db.reading() as conn:
        shown = budgets.spent_by_agent(conn, fleet, at, list(AGENTS))
    backup.backup(db, tmp_path / "fleet.tar")
    if db.is_sqlite:
        target = Database(f"sqlite+pysqlite:///{tmp_path / 'restored.db'}")
        restored(target, tmp_path, fleet, at, shown)
    else:
        with own_postgres_database("restore") as url:
            restored(Database(url), tmp_path, fleet, at, shown)


def restored(
    target: Database, tmp_path: Path, fleet: Fleet, at: datetime, shown: dict[str, Any]
) -> None:
    try:
        backup.restore(target, tmp_path / "fleet.tar")
        with target.reading() as conn:
            assert budgets.spent_by_agent(conn, fleet, at, list(AGENTS)) == shown
        assert assert_totals_match_the_rows(target, fleet, at) > 0
    finally:
        target.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_replicas_adding_at_once_lose_no_increment(db: Database, fleet: Fleet) -> None:
    """Several connections (as several ``mcos serve`` replicas would) add to the same buckets
    at once, without the event-log lock: the upsert is atomic, nothing is lost."""
    at = START + timedelta(minutes=15)
    rows = [
        {
            "ts": at + timedelta(minutes=m),
            "agent": agent,
            "model": "claude-sonnet-4-6",
            "input_tokens": 100,
            "output_tokens": 10,
            "cache_read_tokens": 1,
            "cache_write_tokens": 0,
            "cost_usd": Decimal("0.000123"),
        }
        for agent in ("donna", "flow")
        for m in (0, 20, 70)
    ]
    errors: list[BaseException] = []

    def replica(seed: int) -> None:
        order = random.Random(seed)
        try:
            for _ in range(25):
                mine = order.sample(rows, len(rows))
                with db.write_engine.begin() as conn:
                    usage_totals.add(conn, mine)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.reading() as conn:
        got = usage_totals.spend_since(conn, at, "agent")
    for agent in ("donna", "flow"):
        assert got[agent]["calls"] == 4 * 25 * 3
        assert got[agent]["input_tokens"] == 4 * 25 * 3 * 100
        assert got[agent]["cost_usd"] == Decimal("0.000123") * 300


def test_a_cost_finer_than_the_row_is_rounded_once_and_kept_exact(
    db: Database, fleet: Fleet
) -> None:
    """A price with more decimals than a usage row keeps is rounded before it is written, so
    the row, the event and the totals say the same."""
    row = write_at(db, START, lambda ctx: budgets.agent_row(ctx.conn, "pulse"))
    call = budgets.Call(model=row.model, input_tokens=1, output_tokens=0)
    [recorded] = write_at(
        db,
        START,
        lambda ctx: budgets.record_calls(ctx, "agent:pulse", row, [(call, Decimal("0.0000005"))]),
    )
    assert recorded["cost_usd"] == 0.000001
    with db.reading() as conn:
        assert budgets.spent(conn, fleet, "pulse", START)["daily_usd"] == Decimal("0.000001")
        assert conn.execute(select(U.c.cost_usd)).scalar_one() == Decimal("0.000001")
