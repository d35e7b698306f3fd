"""The machine a benchmark runs on, and what its processes use: CPU, busy time, memory."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import sqlite3
import time
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    versions = {}
    for name in (
        "uvicorn",
        "starlette",
        "fastapi",
        "pydantic",
        "sqlalchemy",
        "httptools",
        "uvloop",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        **versions,
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system time of a process and all its threads, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def memory_of(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    found = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mib": found.get("VmRSS", 0.0), "peak_rss_mib": found.get("VmHWM", 0.0)}


class Meter:
    """CPU use of the servers and of the whole machine over one phase."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def __enter__(self) -> Meter:
        self.start = time.monotonic()
        self.cpu = {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
        self.busy = machine_busy()
        return self

    def __exit__(self, *_: object) -> None:
        elapsed = time.monotonic() - self.start
        busy, total = machine_busy()
        self.result: dict[str, Any] = {}
        for name, pid in self.pids.items():
            used = process_cpu_seconds(pid) - self.cpu[name]
            self.result[f"{name}_cpu_s"] = round(used, 2)
            self.result[f"{name}_cpu_pct"] = round(100 * used / elapsed, 1)
        share = (busy - self.busy[0]) / max(1, total - self.busy[1])
        self.result["machine_busy_pct"] = round(100 * share * (os.cpu_count() or 1), 1)


def postgres_cpu_seconds() -> tuple[dict[int, float], float]:
    """CPU seconds of every PostgreSQL process of this machine, and the CPU of the backends the
    postmaster has reaped (its ``cutime + cstime``): a backend that exits takes its CPU with it,
    into its parent's. Empty when PostgreSQL runs elsewhere or /proc hides it."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
    seconds = {pid: (int(f[11]) + int(f[12])) / CLOCK_TICKS for pid, f in stats.items()}
    reaped = sum(  # the postmaster: the one whose parent is no PostgreSQL process
        (int(f[13]) + int(f[14])) / CLOCK_TICKS for f in stats.values() if int(f[1]) not in stats
    )
    return seconds, reaped
