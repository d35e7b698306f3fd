"""Sandbox benchmark: what a shell command costs in the bubblewrap sandbox, against running it
directly as ``run_shell`` did before (``create_subprocess_shell`` with a minimal environment),
measured in the same run.

Each case runs a small command (``true``, ``echo hi``, ``grep`` over a 1 MiB file, ``python3 -c
pass``, and ``curl`` to a local HTTP server, in the sandbox through the egress proxy) with each
contender in turn, the order rotating every round, after one warm-up round. Every run's output is
checked, so a broken sandbox fails the benchmark rather than timing its error message. Reported
per contender: wall-clock p50/p99 and mean, the CPU this process spends per command (the
runner's side: starting it, the proxy, the cgroups), and the ratio of its p50 to the direct
run's. The command's own CPU is not reported: bwrap does not reap its pid 1 inside, so
``RUSAGE_CHILDREN`` never sees the sandboxed processes.

    python bench/sandbox.py [--tiny] [--runs N] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _machine import machine

from mcos.runtime import sandbox as sandbox_module
from mcos.runtime._sandbox_mounts import LAUNCH_ENV
from mcos.runtime.egress import EgressProxy, EgressRefused
from mcos.runtime.sandbox import Limits, Sandbox, describe, detect

Run = Callable[[str], Awaitable[str]]
WORDS = "mcos sandbox egress workspace agent fleet proxy limit\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="5 runs each: a smoke run of seconds.")
    parser.add_argument("--runs", type=int, help="Measured runs per contender (default 200).")
    parser.add_argument("--json-out", type=Path, help="Also write the figures here as JSON.")
    args = parser.parse_args()
    args.runs = args.runs or (5 if args.tiny else 200)
    return args


async def run_directly(workspace: Path, command: str) -> str:
    """The command as run_shell ran it before the sandbox: a shell in the workspace."""
    process = await asyncio.create_subprocess_shell(
        command,
        cwd=workspace,
        env={**LAUNCH_ENV, "HOME": str(workspace), "LANG": "C.UTF-8"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    output, _ = await process.communicate()
    return f"{process.returncode} {output.decode()}"


async def run_sandboxed(box: Sandbox, command: str) -> str:
    result = await box.run(command, Limits(wall_seconds=60))
    return f"{result.exit_status} {result.output}"


@contextlib.asynccontextmanager
async def web_server() -> AsyncIterator[int]:
    """A local HTTP server answering "hello", for curl to reach directly or through the proxy."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def allow_bench_host(host: str, port: int) -> str:
    if host != "bench.test":
        raise EgressRefused(f"{host} is not the benchmark's host")
    return "127.0.0.1"


def without_cgroups(run: Run) -> Run:
    """The same sandbox with rlimits only: what a per-command cgroup costs."""

    async def wrapped(command: str) -> str:
        real = sandbox_module.cgroup_parents
        sandbox_module.cgroup_parents = lambda: ()  # type: ignore[assignment]
        try:
            return await run(command)
        finally:
            sandbox_module.cgroup_parents = real

    return wrapped


async def measure(cases: list[dict[str, Any]], runs: int) -> list[dict[str, Any]]:
    """Each case's contenders in rotating order, one warm-up round, then ``runs`` rounds."""
    rows = []
    for case in cases:
        contenders: dict[str, Run] = case["contenders"]
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
        names = list(contenders)
        for round_number in range(runs + 1):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                own = resource.getrusage(resource.RUSAGE_SELF)
                started = time.perf_counter()
                said = await contenders[name](case["command"])
                elapsed = time.perf_counter() - started
                own_after = resource.getrusage(resource.RUSAGE_SELF)
                if said != case["expect"]:
                    raise SystemExit(f"{case['name']} / {name} said {said[:500]!r}")
                if round_number:
                    cpu = own_after.ru_utime + own_after.ru_stime - own.ru_utime - own.ru_stime
                    samples[name].append((elapsed, cpu))
        direct = statistics.median(s[0] for s in samples["direct"])
        for name, values in samples.items():
            walls = sorted(v[0] for v in values)
            p50 = statistics.median(walls)
            rows.append(
                {
                    "case": case["name"],
                    "contender": name,
                    "runs": len(walls),
                    "p50_ms": round(p50 * 1000, 2),
                    "p99_ms": round(walls[min(len(walls) - 1, int(len(walls) * 0.99))] * 1000, 2),
                    "mean_ms": round(statistics.fmean(walls) * 1000, 2),
                    "runner_cpu_ms": round(statistics.fmean(v[1] for v in values) * 1000, 2),
                    "x_direct": round(p50 / direct, 1),
                }
            )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = ["case", "contender", "runs", "p50_ms", "p99_ms", "mean_ms"]
    columns += ["runner_cpu_ms", "x_direct"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


async def bench(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    workspace = folder / "workspaces" / "bench"
    workspace.mkdir(parents=True)
    (workspace / "words.txt").write_text(WORDS * ((1 << 20) // len(WORDS)))
    matches = (1 << 20) // len(WORDS)
    async with web_server() as port, EgressProxy(folder / "egress.sock", allow_bench_host) as proxy:
        box = Sandbox(workspace)
        networked = Sandbox(workspace, egress_socket=proxy.path)

        def direct(command: str) -> Awaitable[str]:
            return run_directly(workspace, command)

        def sandboxed(command: str) -> Awaitable[str]:
            return run_sandboxed(box, command)

        def through_proxy(command: str) -> Awaitable[str]:
            return run_sandboxed(networked, command)

        cases: list[dict[str, Any]] = [
            {
                "name": "true",
                "command": "true",
                "expect": "0 ",
                "contenders": {
                    "direct": direct,
                    "sandbox": sandboxed,
                    "sandbox, rlimits only": without_cgroups(sandboxed),
                    "sandbox, networked": through_proxy,
                },
            },
            {
                "name": "echo hi",
                "command": "echo hi",
                "expect": "0 hi\n",
                "contenders": {"direct": direct, "sandbox": sandboxed},
            },
            {
                "name": "grep 1 MiB",
                "command": "grep -c mcos words.txt",
                "expect": f"0 {matches}\n",
                "contenders": {"direct": direct, "sandbox": sandboxed},
            },
            {
                "name": "python3 -c pass",
                "command": "python3 -c pass",
                "expect": "0 ",
                "contenders": {"direct": direct, "sandbox": sandboxed},
            },
            {
                "name": "curl (proxy)",
                "command": f"curl -sS http://bench.test:{port}/",
                "expect": "0 hello",
                "contenders": {
                    # directly, curl reaches the server by address; in the sandbox, by a name
                    # only the egress check knows, through socat and the proxy
                    "direct": lambda _: direct(f"curl -sS http://127.0.0.1:{port}/"),
                    "sandbox, networked": lambda _: through_proxy(
                        f"curl -sS http://bench.test:{port}/"
                    ),
                },
            },
        ]
        return await measure(cases, args.runs)


def main() -> None:
    args = parse_args()
    available = detect()
    if not available.available:
        raise SystemExit(f"no sandbox here: {available}")
    bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, check=True)
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs, {info['cpu']}, {info['memory_gib']} GiB, "
        f"kernel {info['kernel']}, Python {info['python']}, {bwrap.stdout.strip()}, "
        f"load average at start {info['load_average_at_start']}"
    )
    limits = [str(e) for e in describe()]
    print("limits here:\n  " + "\n  ".join(limits))
    # A fleet folder outside /tmp, as a real one is (the sandbox has a private /tmp).
    folder = Path(tempfile.mkdtemp(prefix="mcos-bench-sandbox-", dir="/var/tmp"))
    started = time.monotonic()
    try:
        rows = asyncio.run(bench(args, folder))
    finally:
        shutil.rmtree(folder)
    print(f"\n{args.runs} measured runs per contender, {time.monotonic() - started:.0f} s in all")
    print_table(rows)
    if args.json_out:
        document = {
            "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": info,
            "bwrap": bwrap.stdout.strip(),
            "limits": limits,
            "runs": args.runs,
            "rows": rows,
        }
        args.json_out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"figures written to {args.json_out}")


if __name__ == "__main__":
    sys.exit(main())
