"""Budgets benchmark: what reading an agent's spend costs at 3,000 and 60,000 usage rows in the
month, before and after the running totals, on SQLite and (when it answers) PostgreSQL.

*Before* is the code before migration 0013, kept here as the baseline: two aggregate queries
(today, this month) over every usage row since the period began (``old_spent_by_agent``).
*After* is ``mcos.services.budgets`` as it is: the running totals of ``usage_totals``.

For each back end and size, a fresh database is migrated, given the template fleet, and filled
with that many usage rows of one agent (``donna``), spread evenly from the 1st of the month (in
the fleet's time zone) to ``NOW``, the 28th; the totals are filled by the code's own
``usage_totals.add``. Timed, in rounds that alternate before and after on one open read
connection, after a warm-up: the budget check's read for one agent (what ``POST .../budget/check``,
a usage report and the heartbeat answer read), the same for all 23 agents (the dashboard,
``/metrics``, ``GET /api/v1/usage``), and, on the write side, one usage row's insert alone
(before) against insert plus its totals upsert (after), in a transaction rolled back. Every read
is checked to give the same figures before and after, so a broken path fails the run instead of
being timed. CPU per operation is this process's (SQLite runs in it; PostgreSQL's server CPU
is not in it).

    python bench/budgets.py [--tiny] [--rows 3000,60000] [--repeat N] [--no-postgres]
                            [--json-out PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from _machine import machine
from sqlalchemy import Connection, func, insert, select

from mcos.fleet.loader import load_fleet, template_text
from mcos.fleet.schema import Fleet
from mcos.services import budgets, usage_totals
from mcos.services.agents import sync_fleet
from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.writer import write_once

U = tables.usage
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
AGENT = "donna"
CHUNK = 5_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="200 and 2,000 rows, 5 rounds.")
    parser.add_argument("--rows", help="Usage rows per size, comma-separated (3000,60000).")
    parser.add_argument("--repeat", type=int, help="Measured rounds per operation (200).")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only.")
    parser.add_argument("--json-out", type=Path, help="Also write the figures here as JSON.")
    args = parser.parse_args()
    default_rows = "200,2000" if args.tiny else "3000,60000"
    args.sizes = [int(n) for n in (args.rows or default_rows).split(",")]
    args.repeat = args.repeat or (5 if args.tiny else 200)
    return args


# --- the baseline: the aggregate over usage rows, as budgets.py ran it before 0013 ----------


def _spend_query(since: datetime) -> Any:
    return select(
        U.c.agent,
        func.coalesce(func.sum(U.c.cost_usd), 0).label("cost"),
        func.coalesce(
            func.sum(
                U.c.input_tokens
                + U.c.output_tokens
                + U.c.cache_read_tokens
                + U.c.cache_write_tokens
            ),
            0,
        ).label("tokens"),
    ).where(U.c.ts >= since)


def old_spent_by_agent(
    conn: Connection, fleet: Fleet, now: datetime, names: list[str]
) -> dict[str, dict[str, Any]]:
    """BEFORE (baseline): two grouped aggregate queries over every row since the period began."""
    day, month = budgets.period_starts(fleet, now)
    out: dict[str, dict[str, Any]] = {
        n: {
            "daily_usd": Decimal(0),
            "daily_tokens": 0,
            "monthly_usd": Decimal(0),
            "monthly_tokens": 0,
        }
        for n in names
    }
    for label, since in (("daily", day), ("monthly", month)):
        query = _spend_query(since).group_by(U.c.agent)
        if len(names) == 1:
            query = query.where(U.c.agent == names[0])
        for row in conn.execute(query):
            if row.agent in out:
                out[row.agent][f"{label}_usd"] = Decimal(row.cost)
                out[row.agent][f"{label}_tokens"] = int(row.tokens)
    return out


# --- the run ---------------------------------------------------------------------------------


def databases(
    folder: Path, postgres: bool
) -> list[tuple[str, Callable[[], contextlib.AbstractContextManager[str]]]]:
    """(back end, a context manager giving a fresh database URL) for each back end to run."""

    @contextlib.contextmanager
    def sqlite_db() -> Iterator[str]:
        yield f"sqlite+pysqlite:///{folder / f'budgets-{uuid.uuid4().hex[:8]}.db'}"

    @contextlib.contextmanager
    def postgres_db() -> Iterator[str]:
        name = f"mcos_bench_budgets_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return [("sqlite", sqlite_db)] + ([("postgresql", postgres_db)] if postgres else [])


def postgres_answers() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def fill(db: Database, fleet: Fleet, now: datetime, rows: int) -> None:
    """``rows`` usage rows of ``AGENT``, evenly from the month's start to ``now``, and their
    totals (by the code's own ``usage_totals.add``)."""
    _, month = budgets.period_starts(fleet, now)
    step = (now - month) / rows
    rng = random.Random(rows)
    for at in range(0, rows, CHUNK):
        chunk = [
            {
                "ts": month + step * (i + 0.5),
                "agent": AGENT,
                "provider": "anthropic",
                "model": rng.choice(("claude-sonnet-4-6", "claude-haiku-4-5")),
                "credential": "ANTHROPIC_API_KEY",
                "input_tokens": rng.randrange(1_000, 30_000),
                "output_tokens": rng.randrange(100, 3_000),
                "cache_read_tokens": rng.choice((0, rng.randrange(20_000))),
                "cache_write_tokens": 0,
                "cost_usd": Decimal(rng.randrange(1, 200_000)).scaleb(-6),
                "latency_ms": 900,
                "task_id": None,
            }
            for i in range(at, min(rows, at + CHUNK))
        ]
        with db.write_engine.begin() as conn:
            conn.execute(insert(U), chunk)
            usage_totals.add(conn, chunk)


def exact(spent: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Figures rounded to the row's precision (SQLite sums its REAL column in floats)."""
    return {
        agent: {
            k: v.quantize(usage_totals.MICRO) if isinstance(v, Decimal) else v
            for k, v in used.items()
        }
        for agent, used in spent.items()
    }


def timed(fn: Callable[[], Any], samples: dict[str, list[float]], key: str) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    samples[key].append(time.perf_counter() - wall)
    samples[f"{key}_cpu"].append(time.process_time() - cpu)


def measure(db: Database, fleet: Fleet, now: datetime, repeat: int) -> dict[str, dict[str, Any]]:
    names = [a.name for a in fleet.agents]
    results: dict[str, dict[str, Any]] = {}
    with db.reading() as conn:
        reads = {
            "check, one agent": (
                lambda: old_spent_by_agent(conn, fleet, now, [AGENT]),
                lambda: budgets.spent(conn, fleet, AGENT, now),
            ),
            f"all {len(names)} agents": (
                lambda: old_spent_by_agent(conn, fleet, now, names),
                lambda: budgets.spent_by_agent(conn, fleet, now, names),
            ),
        }
        for operation, (before, after) in reads.items():
            old, new = exact(before()), after()
            new = new if operation != "check, one agent" else {AGENT: new}
            if old != new:
                raise SystemExit(f"{operation}: before {old} != after {new}")
            if new[AGENT]["monthly_tokens"] <= 0:
                raise SystemExit(f"{operation}: nothing spent; the fill did not land")
            samples: dict[str, list[float]] = {
                k: [] for k in ("before", "before_cpu", "after", "after_cpu")
            }
            for round_ in range(repeat + 1):
                order = (("before", before), ("after", after))
                for key, fn in order if round_ % 2 else reversed(order):
                    timed(fn, samples, key)
            results[operation] = summarise(samples)
    row = {
        "ts": now,
        "agent": AGENT,
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
        "credential": "ANTHROPIC_API_KEY",
        "input_tokens": 12_000,
        "output_tokens": 800,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": Decimal("0.048"),
        "latency_ms": 950,
        "task_id": None,
    }
    samples = {k: [] for k in ("before", "before_cpu", "after", "after_cpu")}
    with db.write_engine.connect() as conn:
        for round_ in range(repeat + 1):
            for key in ("before", "after") if round_ % 2 else ("after", "before"):
                transaction = conn.begin()
                timed(
                    lambda key=key: (
                        conn.execute(insert(U), [row]),
                        key == "after" and usage_totals.add(conn, [row]),
                    ),
                    samples,
                    key,
                )
                transaction.rollback()
    results["record one call"] = summarise(samples)
    return results


def summarise(samples: dict[str, list[float]]) -> dict[str, Any]:
    """p50 and mean in ms, CPU in us per operation; the first (warm-up) round dropped."""
    out: dict[str, Any] = {}
    for key in ("before", "after"):
        wall, cpu = samples[key][1:], samples[f"{key}_cpu"][1:]
        out[f"{key}_p50_ms"] = round(statistics.median(wall) * 1e3, 3)
        out[f"{key}_mean_ms"] = round(statistics.fmean(wall) * 1e3, 3)
        out[f"{key}_cpu_us"] = round(statistics.fmean(cpu) * 1e6, 1)
    out["runs"] = len(samples["before"]) - 1
    out["before_over_after"] = round(out["before_p50_ms"] / max(out["after_p50_ms"], 1e-6), 2)
    return out


def main() -> int:
    args = parse_args()
    use_postgres = not args.no_postgres and postgres_answers()
    found: dict[str, Any] = {"machine": machine(), "rows": [], "postgres": use_postgres}
    with tempfile.TemporaryDirectory(prefix="mcos-bench-budgets-") as tmp:
        folder = Path(tmp)
        (folder / "fleet").mkdir()
        (folder / "fleet" / "fleet.toml").write_text(template_text(), encoding="utf-8")
        fleet = load_fleet(folder / "fleet")
        zone = ZoneInfo(fleet.fleet.timezone)
        now = datetime(2026, 11, 28, 18, 0, tzinfo=zone)
        for backend, fresh in databases(folder, use_postgres):
            for size in args.sizes:
                with fresh() as url:
                    db = Database(url)
                    try:
                        db.migrate()
                        write_once(db, lambda ctx: sync_fleet(ctx, fleet))
                        fill(db, fleet, now, size)
                        figures = measure(db, fleet, now, args.repeat)
                    finally:
                        db.dispose()
                for operation, figure in figures.items():
                    found["rows"].append(
                        {"backend": backend, "usage_rows": size, "operation": operation} | figure
                    )
    print_table(found)
    if args.json_out:
        args.json_out.write_text(json.dumps(found, indent=2, default=str))
    return 0


def print_table(found: dict[str, Any]) -> None:
    m = found["machine"]
    print(f"machine: {m['nproc']} x {m['cpu']}, load average at start {m['load_average_at_start']}")
    if not found["postgres"]:
        print("PostgreSQL: not measured (not answering at 127.0.0.1:5432, or --no-postgres)")
    head = (
        f"{'back end':<11}{'rows':>7}  {'operation':<18}{'before p50':>11}{'after p50':>10}"
        f"{'before/after':>13}{'before cpu':>11}{'after cpu':>10}"
    )
    print(head + "\n" + "-" * len(head))
    for r in found["rows"]:
        print(
            f"{r['backend']:<11}{r['usage_rows']:>7,}  {r['operation']:<18}"
            f"{r['before_p50_ms']:>9.3f}ms{r['after_p50_ms']:>8.3f}ms{r['before_over_after']:>12.1f}x"
            f"{r['before_cpu_us']:>9.0f}us{r['after_cpu_us']:>8.0f}us"
        )
    print(
        "before: aggregate over the usage rows (the code before migration 0013, kept in this "
        "file); after: the running totals. 'record one call': the insert alone vs insert + "
        "totals upsert."
    )


if __name__ == "__main__":
    sys.exit(main())
