"""The figures of a benchmark run as a table, each held to its target, and the profile summary."""

from __future__ import annotations

import argparse
import pstats
from pathlib import Path
from typing import Any

from _load import STEP_KINDS

# One task of the runtime (bench/runtime.py's: two model calls, one write_file): two heartbeats,
# the move to in_progress and the one to review, the policy question, two usage reports, the
# comment. The budget check is left out: the runner's lease makes it rare.
STEPS_PER_TASK = {"heartbeat": 2, "move": 2, "action": 1, "usage": 2, "comment": 1}

PROFILE_COMPONENTS: dict[str, list[tuple[str, str, str]]] = {
    "loop": [
        ("one request through the ASGI app", "httptools_impl.py", "run_asgi"),
        ("FastAPI telemetry check (os.environ)", "telemetry/_asgi.py", "enabled"),
        ("reading the request body", "starlette/requests.py", "body"),
        (
            "FastAPI dependency resolution + validation",
            "dependencies/utils.py",
            "solve_dependencies",
        ),
        (
            "  of which: sync dependency in a thread pool",
            "starlette/concurrency.py",
            "run_in_threadpool",
        ),
        ("  of which: pydantic validation", "~", "validate_python"),
        ("the endpoint (incl. awaiting the writer)", "fastapi/routing.py", "run_endpoint_function"),
        ("  of which: handing the job to the writer", "concurrent/futures/_base.py", "__init__"),
        ("  of which: wrap_future", "asyncio/futures.py", "wrap_future"),
        ("JSON rendering (orjson)", "mcos/api/responses.py", "render"),
        ("sending the response", "starlette/responses.py", "__call__"),
        ("publishing events to the stream", "mcos/stream.py", "publish"),
        ("idle: event loop waiting (and uvloop internals)", "asyncio/runners.py", "run"),
    ],
    "writer": [
        ("one batch (transaction)", "storage/writer.py", "run_batch"),
        ("BEGIN IMMEDIATE", "storage/database.py", "_begin"),
        ("SELECT max(seq) of the event log", "storage/database.py", "last_seq"),
        ("savepoints (SAVEPOINT / RELEASE)", "sqlalchemy/engine/base.py", "_savepoint_impl"),
        ("", "sqlalchemy/engine/base.py", "_release_savepoint_impl"),
        ("heartbeat units (bulk)", "services/heartbeats.py", "record_heartbeats"),
        ("heartbeat units (one by one)", "services/agents.py", "record_heartbeat"),
        ("event rows INSERT", "storage/writer.py", "flush"),
        (
            "statements in one round trip (PostgreSQL: storage.together)",
            "storage/together.py",
            "run_together",
        ),
        (
            "begin_batch (PostgreSQL: a connection's first BEGIN, max(seq))",
            "storage/database.py",
            "begin_batch",
        ),
        (
            "commit_batch (PostgreSQL: lock, numbered insert, NOTIFY, COMMIT)",
            "storage/database.py",
            "commit_batch",
        ),
        (
            "SQLAlchemy compile + execute, all statements",
            "sqlalchemy/engine/base.py",
            "_execute_context",
        ),
        (
            "  of which: in sqlite3/psycopg (C, GIL released)",
            "sqlalchemy/engine/default.py",
            "do_execute",
        ),
        ("", "sqlalchemy/engine/default.py", "do_executemany"),
        ("COMMIT (WAL fsync)", "sqlalchemy/engine/default.py", "do_commit"),
        ("handing events to the broker", "mcos/stream.py", "publish_threadsafe"),
        ("idle: waiting for work", "~", "'get' of '_queue.SimpleQueue'"),
    ],
}


def profile_components(
    path: Path, components: list[tuple[str, str, str]], requests: int
) -> list[dict[str, Any]]:
    stats: dict[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    rows: list[dict[str, Any]] = []
    for label, file, name in components:
        found = [
            (calls, cumulative)
            for (where, _line, function), (_, calls, _tt, cumulative, _) in stats.items()
            if where.endswith(file) and (function == name or (file == "~" and name in function))
        ]
        if not found:
            continue
        calls, cumulative = max(found, key=lambda item: item[1])
        if not label and rows:  # a second function of the row above
            rows[-1]["calls"] += calls
            rows[-1]["seconds"] += cumulative
            continue
        rows.append({"component": label, "calls": calls, "seconds": cumulative})
    for row in rows:
        row["us_per_request"] = round(1e6 * row["seconds"] / max(1, requests), 1)
        row["seconds"] = round(row["seconds"], 3)
    return rows


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def report(results: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The table rows, each with the target it is held to (None: a baseline)."""
    rows: list[dict[str, Any]] = []

    def row(
        name: str,
        what: str,
        rate: Any,
        unit: str,
        target: str | None,
        met: bool | None,
        vs: Any = None,
    ) -> None:
        figures = results[name]
        rows.append(
            {
                "phase": name,
                "what": what,
                "rate": rate,
                "unit": unit,
                "p50_ms": figures.get("p50_ms"),
                "p99_ms": figures.get("p99_ms"),
                "errors": figures.get("errors", 0)
                + figures.get("missing", 0)
                + figures.get("unsent", 0),
                "loadgen_cpu_pct": figures.get("loadgen_cpu_pct"),
                "server_cpu_pct": figures.get("server_cpu_pct"),
                "server_cpu_us_per_item": figures.get("server_cpu_us_per_item"),
                "machine_busy_pct": figures.get("machine_busy_pct"),
                "vs_bare": vs,
                "target": target,
                "met": met,
            }
        )

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    if "bare_post_closed" in results:
        bare_rps = results["bare_post_closed"]["requests_per_s"]
        hb = results["heartbeat_closed"]
        row("bare_post_closed", "bare JSON POST, closed loop", bare_rps, "req/s", None, None)
        row(
            "heartbeat_closed",
            "heartbeats, closed loop",
            hb["requests_per_s"],
            "req/s",
            ">= 4,000 req/s",
            hb["requests_per_s"] >= 4000 and hb["errors"] == 0,
            ratio(hb["requests_per_s"], bare_rps),
        )
        bare_open = results["bare_post_open"]
        op = results["heartbeat_open"]
        row(
            "bare_post_open",
            f"bare JSON POST at {args.rate:,.0f}/s",
            bare_open["requests_per_s"],
            "req/s",
            None,
            None,
        )
        row(
            "heartbeat_open",
            f"heartbeats at {args.rate:,.0f}/s",
            op["requests_per_s"],
            "req/s",
            "p99 < 50 ms at 4,000/s",
            args.rate >= 4000
            and op["requests_per_s"] >= 0.99 * args.rate
            and (op["p99_ms"] or 1e9) < 50
            and op["errors"] == 0,
            ratio(op["p99_ms"], bare_open["p99_ms"]),
        )
    if "heartbeat_ids" in results:
        ids = results["heartbeat_ids"]
        row(
            "heartbeat_ids",
            "heartbeats with client ids, closed loop",
            ids["requests_per_s"],
            "req/s",
            None,
            None,
            ratio(ids["requests_per_s"], results["heartbeat_closed"]["requests_per_s"]),
        )
    if "db_baseline" in results:
        base = results["db_baseline"]
        rows.append(
            {
                "phase": "db_baseline",
                "what": f"driver alone, {base['rows_per_commit']} rows/commit",
                "rate": base["rows_per_s"],
                "unit": "rows/s",
                "target": None,
                "met": None,
            }
        )
    if "batch" in results:
        batch = results["batch"]
        base = results.get("db_baseline", {}).get("rows_per_s")
        row(
            "batch",
            f"batch of {args.batch_size} events",
            batch["events_per_s"],
            "events/s",
            ">= 50,000 events/s",
            batch["events_per_s"] >= 50_000 and batch["errors"] == 0,
            ratio(batch["events_per_s"], base),
        )
    for n in args.subscribers:
        if f"sse_mcos_{n}" not in results:
            continue
        limit = 20 if n <= 100 else 100
        bare_sse, ours = results[f"sse_bare_{n}"], results[f"sse_mcos_{n}"]
        for name, figures in ((f"sse_bare_{n}", bare_sse), (f"sse_mcos_{n}", ours)):
            delivered = figures["delivered"] / max(1, figures["subscribers"]) / args.duration
            is_ours = figures is ours
            row(
                name,
                f"SSE, {n} subscribers, {args.sse_rate:,.0f} ev/s",
                round(delivered),
                "ev/s each",
                f"p99 < {limit} ms at {args.sse_rate:,.0f} ev/s"
                if is_ours and n in (100, 500)
                else None,
                (
                    (figures["p99_ms"] or 1e9) < limit
                    and delivered >= 0.99 * args.sse_rate
                    and args.sse_rate >= 1000
                    and figures["missing"] == 0
                    and figures["errors"] == 0
                )
                if is_ours and n in (100, 500)
                else None,
                ratio(ours["p99_ms"], bare_sse["p99_ms"]) if is_ours else None,
            )
    for kind in STEP_KINDS:
        if f"step_{kind}" in results:
            row(
                f"step_{kind}",
                f"an agent's {kind}",
                results[f"step_{kind}"]["requests_per_s"],
                "req/s",
                None,
                None,
            )
    if args.quick or args.tiny:  # smaller loads than the targets name: shown, not judged
        for item in rows:
            item["met"] = None
    return rows


def print_table(rows: list[dict[str, Any]], results: dict[str, Any]) -> None:
    header = (
        "phase",
        "rate",
        "unit",
        "p50 ms",
        "p99 ms",
        "err",
        "srv CPU%",
        "srv us/item",
        "gen CPU%",
        "box CPU%",
        "ratio",
        "target",
        "met",
    )
    table = [header]
    for r in rows:
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        table.append(
            (
                r["phase"],
                fmt(r["rate"], 0),
                r["unit"],
                fmt(r.get("p50_ms"), 2),
                fmt(r.get("p99_ms"), 2),
                fmt(r.get("errors")),
                fmt(r.get("server_cpu_pct")),
                fmt(r.get("server_cpu_us_per_item")),
                fmt(r.get("loadgen_cpu_pct")),
                fmt(r.get("machine_busy_pct")),
                fmt(r.get("vs_bare"), 2),
                r["target"] or "",
                met,
            )
        )
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header))]
    print()
    for index, line in enumerate(table):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print(
        "\nrate: achieved (SSE: events delivered per subscriber per second). err: failed requests"
        "\n+ requests still unsent when a fixed-rate phase ended + stream events not delivered."
        "\nsrv us/item: server CPU per request (batch: per event). gen: the load generator."
        "\nbox CPU%: the whole machine (200% = both cores), so what exceeds srv + gen is other"
        "\nwork. ratio: req/s over the bare app's (heartbeat_closed) or over heartbeat_closed"
        "\n(heartbeat_ids), events/s over the driver's (batch), p99 over the bare app's p99 at"
        "\nthe same load (fixed-rate and SSE phases)."
    )
    if "memory" in results:
        m = results["memory"]
        print(
            f"\nmemory after the runs: mcos serve RSS {m['mcos']['rss_mib']} MiB (peak "
            f"{m['mcos']['peak_rss_mib']}), bare app RSS {m['bare']['rss_mib']} MiB (peak "
            f"{m['bare']['peak_rss_mib']}); events in the log: {results.get('event_log_last_seq')}"
        )
    for name, figures in results.items():
        if isinstance(figures, dict) and figures.get("error_samples"):
            print(f"{name} errors: {figures['error_samples']}")
    if "compare" in results:
        compared = results["compare"]
        print(
            f"\nserver CPU per request, by kind: {compared['compare_src']} (baseline) against "
            f"this tree, {compared['rounds']} alternating rounds"
        )
        print(f"  {'kind':<13} {'baseline us':>12} {'this tree us':>12} {'ratio':>6}")
        totals = [0.0, 0.0]
        for kind in STEP_KINDS:
            base, ours = compared[kind]["baseline"], compared[kind]["this tree"]
            print(f"  {kind:<13} {base:12.1f} {ours:12.1f} {ours / base:6.2f}")
            if kind in STEPS_PER_TASK:
                totals[0] += STEPS_PER_TASK[kind] * base
                totals[1] += STEPS_PER_TASK[kind] * ours
        print(
            f"  {'one task':<13} {totals[0] / 1000:10.2f}ms {totals[1] / 1000:10.2f}ms "
            f"{totals[1] / totals[0]:6.2f}"
        )
    steps = {k: results[f"step_{k}"] for k in STEP_KINDS if f"step_{k}" in results}
    if steps:
        print("\nserver CPU per request, by kind (closed loop, agent tokens, runtime's bodies):")
        for kind, figures in steps.items():
            print(f"  {kind:<13} {figures['server_cpu_us_per_item']:8.1f} us")
        if all(k in steps for k in STEPS_PER_TASK):
            total = sum(n * steps[k]["server_cpu_us_per_item"] for k, n in STEPS_PER_TASK.items())
            print(
                f"  one task ({', '.join(f'{n} {k}' for k, n in STEPS_PER_TASK.items())}): "
                f"{total / 1000:.2f} ms, {1e6 / total:,.0f} tasks/s per core"
            )
    if "profile" in results and "steps" in results["profile"]:
        print(f"\nprofiles (cProfile) of each request kind in {results['profile']['folder']}")
    elif "profile" in results:
        p = results["profile"]
        print(
            f"\nprofile: {p['requests']:,} heartbeats at {p['requests_per_s_under_profiler']:,.0f}"
            f" req/s under cProfile (which slows Python code ~2x); pstats in {p['folder']}"
        )
        for thread in ("loop", "writer"):
            if thread in p:
                print(f"  {thread} thread, wall time per heartbeat (rows nest):")
                for item in p[thread]:
                    print(f"    {item['us_per_request']:8.1f} us  {item['component']}")
