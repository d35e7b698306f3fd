"""The tables of ``bench/scale.py``, and the summary it writes beside the raw figures."""

from __future__ import annotations

import argparse
from typing import Any

from _report import fmt

KINDS = ("heartbeat", "usage", "event", "probe")


def table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    cells = [header, *[tuple(str(c) for c in row) for row in rows]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    print()
    for index, line in enumerate(cells):
        print(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if index == 0:
            print("  ".join("-" * w for w in widths))


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    load, used = results["load"], results["used"]
    kinds = load["kinds"]
    thousands = results["agents"] / 1000
    replica_cpu = sum(used["replica_cpu_pct"])
    requests_per_s = sum(kinds[k]["requests_per_s"] for k in kinds)
    same: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for reader, figures in enumerate(results["fanout"]):
        for origin, delivery in figures.get("by_origin", {}).items():
            (same if origin == f"r{reader}" else other).append(delivery)

    def worst(group: list[dict[str, Any]], key: str) -> float | None:
        found = [d[key] for d in group if d.get(key) is not None]
        return max(found) if found else None

    return {
        "sustained": all(
            k["requests_per_s"] >= 0.95 * k["target_rate"] and k["errors"] == 0 and not k["unsent"]
            for k in kinds.values()
        ),
        "requests_per_s": round(requests_per_s, 1),
        "replicas_cpu_pct": round(replica_cpu, 1),
        "replica_cpu_pct_per_1000_agents": round(replica_cpu / thousands, 2),
        "replica_cpu_us_per_request": round(1e4 * replica_cpu / max(1.0, requests_per_s), 1),
        "postgres_backends_cpu_pct": used["postgres_backends_cpu_pct"],
        "postgres_backends_cpu_pct_per_1000_agents": round(
            used["postgres_backends_cpu_pct"] / thousands, 2
        ),
        "postgres_all_cpu_pct": used["postgres_all_cpu_pct"],
        "idle_replicas_cpu_pct": round(sum(results["idle"]["replica_cpu_pct"]), 1),
        "idle_postgres_backends_cpu_pct": results["idle"]["postgres_backends_cpu_pct"],
        "fanout_same_replica_p50_ms": worst(same, "p50_ms"),
        "fanout_same_replica_p99_ms": worst(same, "p99_ms"),
        "fanout_other_replica_p50_ms": worst(other, "p50_ms"),
        "fanout_other_replica_p99_ms": worst(other, "p99_ms"),
        "fanout_between_replicas_p50_ms": results["between_replicas"]["p50_ms"],
        "fanout_between_replicas_p99_ms": results["between_replicas"]["p99_ms"],
        "fanout_missing": sum(f["missing"] for f in results["fanout"]),
        "fanout_errors": sum(f["errors"] for f in results["fanout"]),
    }


def print_report(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    load, used = results["load"], results["used"]
    summary = summarise(results)
    print(
        f"\n{results['agents']:,} agents on {results['machines']} machine(s) through "
        f"{results['replicas']} replicas; every agent: a heartbeat each {args.heartbeat_every:g} s,"
        f" usage each {args.usage_every:g} s, an event each {args.event_every:g} s; "
        f"{args.duration:g} s measured after {args.warmup:g} s of warm-up"
    )
    rows: list[tuple[Any, ...]] = []
    for kind in KINDS:
        k = load["kinds"].get(kind)
        if k is None:
            continue
        rows.append(
            (
                kind,
                fmt(k["target_rate"], 0),
                fmt(k["requests_per_s"], 1),
                fmt(k["p50_ms"], 2),
                fmt(k["p99_ms"], 2),
                fmt(k["max_ms"], 1),
                fmt(k["errors"]),
                fmt(k["unsent"]),
            )
        )
    table(("request", "offered/s", "done/s", "p50 ms", "p99 ms", "max ms", "err", "unsent"), rows)
    print(
        "\nopen loop: latency from each request's scheduled time; unsent: still queued in the"
        " load generator\nwhen the window closed (the replicas fell behind)."
    )
    for kind in KINDS:
        k = load["kinds"].get(kind)
        if k and k["unsent"]:
            late = k["with_backlog"]
            print(
                f"  {kind}: behind; with the warm-up's backlog answered in the window, p50 "
                f"{fmt(late['p50_ms'], 0)} ms, p99 {fmt(late['p99_ms'], 0)} ms"
            )

    rows = []
    for r, cpu in enumerate(used["replica_cpu_pct"]):
        through = sum(
            s["requests_per_s"] for n, s in load["streams"].items() if n.endswith(f"@r{r}")
        )
        memory = used["replica_memory"][r]
        rows.append(
            (f"replica {r}", fmt(through, 0), fmt(cpu), memory["rss_mib"], memory["peak_rss_mib"])
        )
    rows.append(
        ("PostgreSQL, this database's backends", "", fmt(used["postgres_backends_cpu_pct"]), "", "")
    )
    rows.append(("PostgreSQL, every process", "", fmt(used["postgres_all_cpu_pct"]), "", ""))
    rows.append(("load generator", "", fmt(load["loadgen_cpu_pct"]), "", ""))
    rows.append(("whole machine (200% = 2 cores)", "", fmt(used["machine_busy_pct"]), "", ""))
    table(("process", "req/s", "CPU %", "RSS MiB", "peak MiB"), rows)
    idle = results["idle"]
    print(
        f"\nidle for {idle['seconds']:g} s after the load (the fleet's standing cost): replicas "
        f"{' / '.join(fmt(x) for x in idle['replica_cpu_pct'])}% CPU, this database's "
        f"backends {fmt(idle['postgres_backends_cpu_pct'])}%"
    )

    rows = []
    for reader, figures in enumerate(results["fanout"]):
        for origin, d in figures.get("by_origin", {}).items():
            rows.append(
                (
                    f"r{reader}",
                    origin,
                    fmt(d["delivered"]),
                    fmt(d["p50_ms"], 1),
                    fmt(d["p99_ms"], 1),
                    fmt(d["max_ms"], 1),
                )
            )
    table(("read on", "sent via", "delivered", "p50 ms", "p99 ms", "max ms"), rows)
    missing, errors = summary["fanout_missing"], summary["fanout_errors"]
    between = results["between_replicas"]
    print(
        f"\nfan-out: send time (stamped just before the POST) to receipt on each replica's "
        f"stream; probes missing {missing}, stream errors {errors}.\nSeen on another replica "
        f"minus seen on the replica it was posted to ({fmt(between['pairs'])} pairs): p50 "
        f"{fmt(between['p50_ms'], 1)} ms, p99 {fmt(between['p99_ms'], 1)} ms, max "
        f"{fmt(between['max_ms'], 1)} ms, min {fmt(between['min_ms'], 1)} ms"
    )
    for figures in results["fanout"]:
        if figures.get("error_samples"):
            print(f"stream errors: {figures['error_samples']}")
    for name, stream in load["streams"].items():
        if stream.get("error_samples"):
            print(f"{name} errors: {stream['error_samples']}")
    print(
        f"\nper 1,000 agents: replicas {summary['replica_cpu_pct_per_1000_agents']}% of a core, "
        f"PostgreSQL backends {summary['postgres_backends_cpu_pct_per_1000_agents']}%; "
        f"replicas {summary['replica_cpu_us_per_request']} us of CPU per request; "
        f"sustained: {'yes' if summary['sustained'] else 'NO'}; load average "
        f"{used['load_average_start']} -> {used['load_average_end']}"
    )
    return summary
