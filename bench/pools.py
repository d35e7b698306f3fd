"""Connection-pool benchmark: CPU per request of a runner's pool, httpx2's transport against
``mcos.client.connections.Transport``, in one run.

A local server (uvicorn, a plain ASGI answer of 12 bytes, in its own process) takes LOOPS loops
of requests at once through one ``httpx2.AsyncClient`` per contender, so the pool holds LOOPS
connections, as a runner's pool does with that many agents at work. The figure is this
process's CPU per request (the server's is not in it), in rounds that alternate the contenders
after a warm-up; the ratio is ours over httpx2's, the median of the rounds.

    python bench/pools.py [--tiny] [--loops 20] [--requests 300] [--rounds 5] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
from _machine import machine

from mcos.client.connections import Transport

SERVER = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error")
"""

CONTENDERS: dict[str, Callable[[], httpx2.AsyncClient]] = {
    "httpx2 transport": lambda: httpx2.AsyncClient(),
    "mcos Transport": lambda: httpx2.AsyncClient(transport=Transport()),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def one_round(
    client: httpx2.AsyncClient, url: str, loops: int, each: int
) -> dict[str, float]:
    latencies: list[float] = []

    async def loop() -> None:
        for _ in range(each):
            started = time.perf_counter()
            answer = await client.post(url, content=b"{}")
            latencies.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise SystemExit(f"the server answered {answer.status_code}")

    cpu = time.process_time()
    await asyncio.gather(*(loop() for _ in range(loops)))
    latencies.sort()
    return {
        "cpu_us": 1e6 * (time.process_time() - cpu) / len(latencies),
        "p50_ms": 1e3 * latencies[len(latencies) // 2],
    }


async def measure(url: str, args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in CONTENDERS}
    clients = {name: make() for name, make in CONTENDERS.items()}
    try:
        for client in clients.values():  # warm-up: every connection made
            await one_round(client, url, args.loops, max(2, args.requests // 10))
        for n in range(args.rounds):
            order = list(clients.items())
            for name, client in order if n % 2 == 0 else reversed(order):
                figures[name].append(await one_round(client, url, args.loops, args.requests))
    finally:
        for client in clients.values():
            await client.aclose()
    return figures


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx2.post(url, content=b"{}", timeout=1)
            return
        except httpx2.TransportError:
            time.sleep(0.05)
    raise SystemExit("the local server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="A few requests: the tests' run.")
    parser.add_argument("--loops", type=int, default=20, help="Loops (connections) at once.")
    parser.add_argument("--requests", type=int, help="Requests per loop a round (300).")
    parser.add_argument("--rounds", type=int, help="Measured rounds (5).")
    parser.add_argument("--json-out", type=Path, help="Also write the figures here as JSON.")
    args = parser.parse_args()
    args.requests = args.requests or (5 if args.tiny else 300)
    args.rounds = args.rounds or (2 if args.tiny else 5)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url)
        figures = asyncio.run(measure(url, args))
    finally:
        server.terminate()
        server.wait(10)
    rows: list[dict[str, Any]] = []
    for name, rounds in figures.items():
        rows.append(
            {
                "contender": name,
                "cpu_us": statistics.median(r["cpu_us"] for r in rounds),
                "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
                "rounds": len(rounds),
            }
        )
    ratio = rows[1]["cpu_us"] / rows[0]["cpu_us"]
    print(f"{args.loops} loops at once, {args.requests} requests each, {args.rounds} rounds")
    print(f"{'contender':<18} {'CPU us/request':>14} {'p50 ms':>8}")
    for row in rows:
        print(f"{row['contender']:<18} {row['cpu_us']:>14.1f} {row['p50_ms']:>8.2f}")
    print(f"ours / httpx2's CPU per request: {ratio:.2f}")
    if args.json_out:
        out = {"machine": machine(), "loops": args.loops, "rows": rows, "ratio": ratio}
        args.json_out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
