"""Routing benchmark: CPU per request of the control plane's app in this process, its routes
found by ``mcos.api.routing.RouteIndex`` against FastAPI's own matching, in one run.

Builds the app as ``mcos serve`` does (``mcos init``'s fleet on SQLite in a temporary folder,
its lifespan running) and calls it as an ASGI app, without a socket, for a few requests whose
routes sit early and late in the app's ~100: ``GET /api/v1/health`` (declared last), one
agent (``GET /api/v1/agents/{name}``, first), the dashboard's snapshot, a heartbeat (it waits
for the writer's commit), and a path no route has (404). Each is timed with the index as served
and with the app's router matching by itself (every route tried in order, as FastAPI does), in
rounds that alternate the two after a warm-up. The figure is this process's CPU per request
(the writer thread's included), the median of the rounds.

    python bench/routing.py [--tiny] [--requests 1000] [--rounds 5] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _machine import machine
from fastapi import FastAPI

from mcos.api.app import create_app
from mcos.cli.setup import init_fleet
from mcos.fleet.loader import template_text
from mcos.settings import Settings

Headers = list[tuple[bytes, bytes]]


async def call(
    app: FastAPI, method: str, path: str, headers: Headers, body: bytes = b""
) -> tuple[int, bytes]:
    """One request through the whole app; its status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    answer: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            answer.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(answer)


async def measure(app: FastAPI, args: argparse.Namespace, token: str) -> list[dict[str, Any]]:
    operator: Headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    json_type = (b"content-type", b"application/json")
    status, issued = await call(
        app, "POST", "/api/v1/agents/donna/tokens", [*operator, json_type], b"{}"
    )
    if status != 201:
        raise SystemExit(f"issuing an agent token answered {status}")
    bearer = f"Bearer {json.loads(issued)['token']}"
    agent: Headers = [(b"host", b"127.0.0.1:8000"), (b"authorization", bearer.encode()), json_type]
    beat = json.dumps({"status": "working", "context_tokens": 1000}).encode()
    requests: dict[str, tuple[str, str, Headers, bytes, int]] = {
        "GET /api/v1/health": ("GET", "/api/v1/health", operator, b"", 200),
        "GET /api/v1/agents/{name}": ("GET", "/api/v1/agents/donna", operator, b"", 200),
        "GET /api/v1/dashboard/snapshot": ("GET", "/api/v1/dashboard/snapshot", operator, b"", 200),
        "POST .../heartbeat": ("POST", "/api/v1/agents/donna/heartbeat", agent, beat, 200),
        "GET (no such route)": ("GET", "/api/v1/no-such-thing", operator, b"", 404),
    }
    index = app.router.middleware_stack
    ways = {"index": index, "FastAPI": app.router.app}
    figures: dict[tuple[str, str], list[float]] = {}
    for name, (method, path, headers, body, expected) in requests.items():
        for way, stack in ways.items():
            app.router.middleware_stack = stack
            for _ in range(max(5, args.requests // 10)):  # warm-up
                status, _ = await call(app, method, path, headers, body)
                if status != expected:
                    raise SystemExit(f"{name} answered {status} ({way}), not {expected}")
        for n in range(args.rounds):
            order = list(ways.items()) if n % 2 == 0 else list(reversed(ways.items()))
            for way, stack in order:
                app.router.middleware_stack = stack
                started = time.process_time()
                for _ in range(args.requests):
                    await call(app, method, path, headers, body)
                spent = (time.process_time() - started) / args.requests
                figures.setdefault((name, way), []).append(1e6 * spent)
    app.router.middleware_stack = index
    rows = []
    for name in requests:
        indexed = statistics.median(figures[(name, "index")])
        fastapi = statistics.median(figures[(name, "FastAPI")])
        rows.append(
            {
                "request": name,
                "index_us": indexed,
                "fastapi_us": fastapi,
                "ratio": indexed / fastapi,
            }
        )
    return rows


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="mcos-bench-routing-"))
    os.environ["XDG_CONFIG_HOME"] = str(folder / "config")
    for name in [key for key in os.environ if key.startswith("MCOS_")]:
        del os.environ[name]  # the fleet's own SQLite file, whatever the shell says
    _, token, _ = init_fleet(folder / "fleet", template_text())
    app = create_app(Settings(fleet=folder / "fleet" / "fleet.toml"))
    async with app.router.lifespan_context(app):
        return await measure(app, args, token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="A few requests: the tests' run.")
    parser.add_argument("--requests", type=int, help="Requests of each kind a round (1,000).")
    parser.add_argument("--rounds", type=int, help="Measured rounds (5).")
    parser.add_argument("--json-out", type=Path, help="Also write the figures here as JSON.")
    args = parser.parse_args()
    args.requests = args.requests or (20 if args.tiny else 1000)
    args.rounds = args.rounds or (2 if args.tiny else 5)
    rows = asyncio.run(run(args))
    print(f"in-process requests, {args.requests} of each kind a round, {args.rounds} rounds")
    print(f"{'request':<32} {'index us':>9} {'FastAPI us':>11} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['request']:<32} {row['index_us']:>9.1f} {row['fastapi_us']:>11.1f}"
            f" {row['ratio']:>6.2f}"
        )
    if args.json_out:
        args.json_out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
