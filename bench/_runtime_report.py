"""The agent-runtime benchmark's figures: per contender and phase, against the bare SDK loop."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import math
import statistics
from typing import Any

LIBRARIES = (
    "mcos",
    "openai",
    "httpx2",
    "anthropic",
    "openai-agents",
    "langgraph",
    "langgraph-prebuilt",
    "langchain-core",
    "langchain-openai",
    "httpx",
    "uvicorn",
    "starlette",
    "fastapi",
    "sqlalchemy",
    "pydantic",
)
LABELS = {
    "bare": "bare openai SDK",
    "bare_same": "bare, our prompt+tools",
    "agents": "OpenAI Agents SDK",
    "langgraph": "LangGraph",
    "mcos": "mcos runtime",
}
OVERHEAD_TARGET_MS = 3.0
THROUGHPUT_TARGET = 0.9
IDLE_RSS_TARGET_MB = 150.0


def library_versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _contender(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [x for r in rounds for x in r["latencies_ms"]]
    tasks = sum(r["tasks"] for r in rounds)
    cpu = {
        "client": sum(r["client_cpu_s"] for r in rounds),
        "fake": sum(r["server_cpu_s"].get("fake", 0.0) for r in rounds),
        "control_plane": sum(r["server_cpu_s"].get("control_plane", 0.0) for r in rounds),
    }
    figures: dict[str, Any] = {
        "tasks": tasks,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "mean_ms": statistics.fmean(latencies),
        "tasks_per_s": statistics.median(r["tasks"] / r["wall_s"] for r in rounds),
        "tasks_per_s_rounds": [round(r["tasks"] / r["wall_s"], 1) for r in rounds],
        "cpu_ms_per_task": {k: 1000 * v / tasks for k, v in cpu.items()},
        "box_busy_pct": statistics.median(r["box_busy_pct"] for r in rounds),
        "rss_mib": rounds[-1]["memory"]["rss_mib"],
        "peak_rss_mib": rounds[-1]["memory"]["peak_rss_mib"],
    }
    if "done_latencies_ms" in rounds[0]:
        done = [x for r in rounds for x in r["done_latencies_ms"]]
        figures |= {
            "done_p50_ms": percentile(done, 0.5),
            "done_p99_ms": percentile(done, 0.99),
            "agent_side_tasks_per_s": statistics.median(
                r["tasks"] / r["agents_wall_s"] for r in rounds
            ),
            "tasks_not_done": sum(r["tasks"] - r["tasks_done"] for r in rounds),
            "worked_twice": sum(r["worked_twice"] for r in rounds),
            "left_in_outbox": sum(r["left_in_outbox"] for r in rounds),
        }
    return figures


def summarise(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    summary: dict[str, Any] = {"concurrency": args.concurrency}
    for phase in ("seq", "concurrent"):
        if phase not in results:
            continue
        rows = {name: _contender(rounds) for name, rounds in results[phase].items()}
        bare = rows["bare"]
        for name, row in rows.items():
            row["p50_over_bare_ms"] = row["p50_ms"] - bare["p50_ms"]
            row["mean_over_bare_ms"] = row["mean_ms"] - bare["mean_ms"]
            # Per round, then the median: each ratio compares two runs minutes apart at most.
            row["throughput_vs_bare"] = statistics.median(
                (r["tasks"] / r["wall_s"]) / (b["tasks"] / b["wall_s"])
                for r, b in zip(results[phase][name], results[phase]["bare"], strict=True)
            )
        summary[phase] = rows
    if "idle" in results and len(results["idle"]) == 2:
        one, many = results["idle"]
        extra = many["rss_idle_mib"] - one["rss_idle_mib"]
        summary["idle"] = {
            "one_agent": one,
            "many_agents": many,
            "mib_per_extra_agent": extra / max(1, many["agents"] - one["agents"]),
        }
    summary["targets"] = _targets(summary, args)
    return summary


def _targets(summary: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    targets = []
    if "seq" in summary:
        seq = summary["seq"]
        over = seq["mcos"]["p50_over_bare_ms"]
        frameworks = [n for n in ("agents", "langgraph") if n in seq]
        if frameworks:
            best = min(frameworks, key=lambda n: seq[n]["p50_over_bare_ms"])
            best_over = seq[best]["p50_over_bare_ms"]
            targets.append(
                {
                    "target": "overhead per task below the best framework's, same run",
                    "reached": f"{over:+.1f} vs {best_over:+.1f} ms",
                    "met": over < best_over,
                }
            )
        targets.append(
            {
                "target": f"<= {OVERHEAD_TARGET_MS:g} ms overhead per task (p50 - bare p50)",
                "reached": f"{over:+.1f} ms",
                "met": over <= OVERHEAD_TARGET_MS,
            }
        )
    if "concurrent" in summary:
        ratio = summary["concurrent"]["mcos"]["throughput_vs_bare"]
        targets.append(
            {
                "target": f">= {THROUGHPUT_TARGET}x bare tasks/s at concurrency {args.concurrency}",
                "reached": f"{ratio:.2f}x",
                "met": ratio >= THROUGHPUT_TARGET,
            }
        )
    if "idle" in summary:
        many = summary["idle"]["many_agents"]
        rss_mb = many["rss_idle_mib"] * 1.048576  # MiB to MB, as the target is written
        targets.append(
            {
                "target": f"{many['agents']:,} idle agents < {IDLE_RSS_TARGET_MB:g} MB RSS",
                "reached": f"{rss_mb:.0f} MB ({many['rss_idle_mib']:.0f} MiB)",
                "met": rss_mb < IDLE_RSS_TARGET_MB,
            }
        )
    return targets


def _print(table: list[tuple[str, ...]]) -> None:
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def print_summary(summary: dict[str, Any]) -> None:
    titles = {
        "seq": "one task at a time (one loop; for mcos one agent)",
        "concurrent": f"{summary['concurrency']} loops at once (for mcos {summary['concurrency']} "
        "agents in one runner)",
    }
    for phase, title in titles.items():
        if phase not in summary:
            continue
        rows = summary[phase]
        print(f"\n{title}")
        table = [
            (
                "contender",
                "tasks",
                "p50 ms",
                "p99 ms",
                "mean ms",
                "p50 vs bare",
                "tasks/s",
                "x bare",
                "client ms/task",
                "fake ms/task",
                "cp ms/task",
                "RSS MiB",
                "box CPU%",
            )
        ]
        for name, row in rows.items():
            cpu = row["cpu_ms_per_task"]
            table.append(
                (
                    LABELS[name],
                    str(row["tasks"]),
                    f"{row['p50_ms']:.2f}",
                    f"{row['p99_ms']:.2f}",
                    f"{row['mean_ms']:.2f}",
                    f"{row['p50_over_bare_ms']:+.2f}",
                    f"{row['tasks_per_s']:.1f}",
                    f"{row['throughput_vs_bare']:.2f}",
                    f"{cpu['client']:.2f}",
                    f"{cpu['fake']:.2f}",
                    f"{cpu['control_plane']:.2f}",
                    f"{row['rss_mib']:.0f}",
                    f"{row['box_busy_pct']:.0f}",
                )
            )
        _print(table)
        ours = rows["mcos"]
        print(
            f"mcos: finished (in review) on the control plane p50 {ours['done_p50_ms']:.1f} ms, "
            f"p99 {ours['done_p99_ms']:.1f} ms after pick-up; agents alone "
            f"{ours['agent_side_tasks_per_s']:.1f} tasks/s (before the outbox drains); "
            f"not finished {ours['tasks_not_done']}, worked twice {ours['worked_twice']}, "
            f"left in outbox {ours['left_in_outbox']}"
        )
    if "idle" in summary:
        idle = summary["idle"]
        print("\nidle runner")
        _print(
            [
                ("agents", "RSS before", "RSS idle", "peak RSS", "tokens s", "all heartbeated s"),
                *(
                    (
                        f"{r['agents']:,}",
                        f"{r['rss_before_mib']:.1f}",
                        f"{r['rss_idle_mib']:.1f}",
                        f"{r['peak_rss_mib']:.1f}",
                        f"{r['token_issuing_s']}",
                        f"{r['start_to_all_heartbeated_s']}",
                    )
                    for r in (idle["one_agent"], idle["many_agents"])
                ),
            ]
        )
        print(f"{1024 * idle['mib_per_extra_agent']:.0f} KiB per extra agent (MiB = 2^20 bytes)")
    print("\ntargets")
    _print(
        [("target", "reached", "met")]
        + [(t["target"], t["reached"], "yes" if t["met"] else "NO") for t in summary["targets"]]
    )
