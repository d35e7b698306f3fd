"""OTLP ingest benchmark: spans/s and latency of ``POST /v1/traces`` beside ``/api/v1/batch``.

Self-contained: ``mcos init`` writes a fleet into a temporary folder, ``mcos serve`` runs it on a
free port, and the same clients then post, for the same time, batches of N client events to
``/api/v1/batch`` and OTLP export requests of N GenAI spans (one LLM call each, priced and
recorded as usage, protobuf as the SDK's exporter sends it) to ``/v1/traces``. Every request
carries new ids, so nothing is a duplicate. Requests are built before the clock starts.

    python bench/otlp.py [--tiny] [--duration S] [--items N] [--clients C] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from _machine import machine
from _servers import Server
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

PYTHON = sys.executable
MODEL = "claude-sonnet-4-6"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--tiny", action="store_true", help="A few requests: proves it runs.")
    parser.add_argument("--duration", type=float, help="Seconds per phase (default 10).")
    parser.add_argument("--items", type=int, help="Spans (events) per request (default 200).")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent clients.")
    parser.add_argument("--json-out", type=Path, help="Write the figures here as JSON.")
    args = parser.parse_args()
    args.duration = args.duration or (1.0 if args.tiny else 10.0)
    args.items = args.items or (20 if args.tiny else 200)
    return args


def _attribute(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_body(agent: str, items: int) -> bytes:
    now = time.time_ns()
    spans = [
        Span(
            trace_id=uuid.uuid4().bytes,
            span_id=uuid.uuid4().bytes[:8],
            name=f"chat {MODEL}",
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=now - 900_000_000,
            end_time_unix_nano=now,
            attributes=[
                _attribute("gen_ai.operation.name", "chat"),
                _attribute("gen_ai.agent.name", agent),
                _attribute("gen_ai.request.model", MODEL),
                _attribute("gen_ai.usage.input_tokens", 1_200),
                _attribute("gen_ai.usage.output_tokens", 150),
            ],
        )
        for _ in range(items)
    ]
    export = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={"attributes": [_attribute("service.name", agent)]},
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )
    return export.SerializeToString()


def batch_body(agent: str, items: int) -> bytes:
    events = [
        {
            "id": uuid.uuid4().hex,
            "type": "bench.llm_call",
            "subject": f"agent:{agent}",
            "data": {"model": MODEL, "input_tokens": 1_200, "output_tokens": 150},
        }
        for _ in range(items)
    ]
    return json.dumps({"events": events}).encode()


async def phase(
    url: str, path: str, content_type: str, clients: list[tuple[str, str]], args: Any
) -> dict[str, Any]:
    build = otlp_body if path == "/v1/traces" else batch_body
    # Enough pre-built requests for the phase at a generous rate; each is sent once.
    per_client = 3 if args.tiny else max(20, int(args.duration * 60))
    bodies = {agent: [build(agent, args.items) for _ in range(per_client)] for agent, _ in clients}
    latencies: list[float] = []
    errors = 0
    deadline = 0.0

    async def client(agent: str, token: str) -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            for body in bodies[agent]:
                if time.monotonic() > deadline and not args.tiny:
                    return
                started = time.perf_counter()
                response = await http.post(path, content=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1
                    print(f"{path}: {response.status_code} {response.text[:300]}", file=sys.stderr)

    started = time.monotonic()
    deadline = started + args.duration
    await asyncio.gather(*(client(agent, token) for agent, token in clients))
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "items_per_request": args.items,
        "items_per_s": round(len(latencies) * args.items / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "errors": errors,
    }


def tokens(server: Server, operator: str, count: int) -> list[tuple[str, str]]:
    headers = {"Authorization": f"Bearer {operator}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        names = [a["name"] for a in http.get("/api/v1/agents").json()["agents"]][:count]
        return [
            (name, http.post(f"/api/v1/agents/{name}/tokens", json={}).json()["token"])
            for name in names
        ]


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="mcos-bench-otlp-") as folder_name:
        folder = Path(folder_name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCOS_")}
        env |= {"XDG_CONFIG_HOME": str(folder / "config")}
        fleet = folder / "fleet"
        subprocess.run(
            [PYTHON, "-m", "mcos", "init", str(fleet)], env=env, check=True, capture_output=True
        )
        operator = (fleet / ".mcos" / "operator.token").read_text().strip()
        server = Server(
            "mcos serve",
            [PYTHON, "-m", "mcos", "serve", "--fleet", str(fleet), "--port", "{port}"],
            env,
            folder / "mcos.log",
        )
        server.start("/api/v1/health")
        try:
            clients = tokens(server, operator, args.clients)
            results = {
                "machine": machine(),
                "batch": asyncio.run(
                    phase(server.url, "/api/v1/batch", "application/json", clients, args)
                ),
                "otlp": asyncio.run(
                    phase(server.url, "/v1/traces", "application/x-protobuf", clients, args)
                ),
            }
        finally:
            server.stop()
    results["otlp_over_batch"] = round(
        results["otlp"]["items_per_s"] / max(results["batch"]["items_per_s"], 1e-9), 3
    )
    print(f"{'phase':<28}{'items/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'err':>5}")
    for name, label in (("batch", "/api/v1/batch (events)"), ("otlp", "/v1/traces (spans)")):
        row = results[name]
        print(
            f"{label:<28}{row['items_per_s']:>12}{row['p50_ms']:>10}{row['p99_ms']:>10}"
            f"{row['requests']:>10}{row['errors']:>5}"
        )
    print(f"OTLP spans/s over batch events/s: {results['otlp_over_batch']}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    if results["batch"]["errors"] or results["otlp"]["errors"]:
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
