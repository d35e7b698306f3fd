"""The load generator of ``bench/ingest.py`` and ``bench/scale.py``: raw asyncio sockets, one
process per phase.

It speaks HTTP/1.1 with keep-alive over plain asyncio protocols (uvloop when installed), builds
requests as bytes ahead of time and parses responses with httptools (uvicorn's own parser), so a
request costs the client a few microseconds and the server stays the bottleneck. Run it as
``python bench/_load.py '<json config>'`` (or ``@FILE`` holding it); it prints one JSON line of
results. Modes:

- ``closed``: C connections, each sends its next request as soon as the last one is answered.
- ``open``: requests scheduled at a fixed rate over a pool of connections; latency counts from
  the scheduled time, so a server that falls behind cannot hide its queue (no coordinated
  omission).
- ``subscribe``: N Server-Sent-Events subscribers; prints ``ready`` once all are connected, then
  waits for ``drain EXPECTED SECONDS`` on stdin and reports delivery latency (receive time minus
  the ``bench_sent`` time.time() the producer put in each event).
- ``produce``: posts events at a fixed rate, stamped with ``bench_sent`` (``bench_warm`` during
  the warm-up, which subscribers ignore).
- ``fleet``: several ``open`` streams at once on one clock (heartbeats, usage, events and stamped
  probes, each to its server), each stream cycling through its agents; figures per stream and
  per kind of request. ``subscribe`` with ``by_origin`` splits delivery latency by the probes'
  ``bench_via`` (the server they were posted to).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import json
import re
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httptools

try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover - orjson is a dependency of mcos

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()


# SSE delivery latencies go to a histogram of 0.1 ms buckets: 500 subscribers at 1,000 events/s
# are 500,000 samples a second, too many to keep and sort.
BUCKETS_PER_SECOND = 10_000
MAX_BUCKET = 30 * BUCKETS_PER_SECOND
SENT = re.compile(rb'"bench_sent":([0-9.eE+\-]+)')
VIA = re.compile(rb'"bench_via":"([^"]*)"')
PROBE_ID = re.compile(rb'"bench_id":"([^"]*)"')
perf = time.perf_counter


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentiles(samples: list[float]) -> dict[str, float | None]:
    """p50/p90/p99/max in milliseconds (nearest rank)."""
    if not samples:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(samples)
    n = len(ordered)

    def rank(q: float) -> float:
        return round(ordered[min(n - 1, max(0, int(q * n + 0.5) - 1))] * 1000, 3)

    return {"p50_ms": rank(0.50), "p90_ms": rank(0.90), "p99_ms": rank(0.99), "max_ms": rank(1.0)}


def histogram_percentiles(hist: list[int]) -> dict[str, float | None]:
    total = sum(hist)
    result: dict[str, float | None] = {}
    for name, q in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99), ("max_ms", 1.0)):
        if total == 0:
            result[name] = None
            continue
        wanted = max(1, int(q * total + 0.5))
        seen = 0
        for bucket, count in enumerate(hist):
            seen += count
            if seen >= wanted:
                # Report the bucket's upper edge: never flatter than the truth.
                result[name] = round((bucket + 1) * 1000 / BUCKETS_PER_SECOND, 3)
                break
    return result


def http_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if method != "GET":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- request/response clients ------------------------------------------------------------------


class Client(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, run: Run, next_request: Callable[[], bytes]) -> None:
        self.run = run
        self.next_request = next_request
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.started = 0.0
        self.scheduled = 0.0
        self.status = 0
        self.error_body = b""

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.run.note_error(f"unparseable response: {exc}")
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.run.lost(self)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.status = 0
        self.error_body = b""

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if self.status >= 400 and len(self.error_body) < 400:
            self.error_body += body

    def on_message_complete(self) -> None:
        self.busy = False
        if self.status >= 400:
            self.run.note_error(
                f"HTTP {self.status}: {self.error_body[:300].decode(errors='replace')}"
            )
        self.run.completed(self, perf())

    def send(self, scheduled: float) -> None:
        assert self.transport is not None
        self.busy = True
        self.scheduled = scheduled
        request = self.next_request()
        self.started = perf()
        self.transport.write(request)


class Run:
    """What the clients of one phase report to."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.duration = float(config["duration"])
        self.warmup = float(config["warmup"])
        self.latencies: list[float] = []
        self.late: list[float] = []
        self.in_window = 0
        self.total = 0
        self.errors = 0
        self.error_samples: collections.Counter[str] = collections.Counter()
        self.lost_in_flight = 0
        self.measure_from = 0.0
        self.end = 0.0
        self.finished: asyncio.Future[None] | None = None
        self.clients: list[Client] = []

    def note_error(self, text: str) -> None:
        if perf() >= self.measure_from:
            self.errors += 1
        if len(self.error_samples) < 5 or text in self.error_samples:
            self.error_samples[text] += 1

    def record(self, client: Client, now: float, since: float) -> None:
        if since >= self.measure_from and since < self.end:
            self.latencies.append(now - since)
        elif self.measure_from <= now < self.end:
            # Sent before the window, answered in it: a server far behind answers only these.
            self.late.append(now - since)
        self.total += 1
        if self.measure_from <= now < self.end:
            self.in_window += 1

    def lost(self, client: Client) -> None:
        if client.busy:
            self.lost_in_flight += 1
            self.note_error("connection closed with a request in flight")
            client.busy = False
        self.check_finished()

    def completed(self, client: Client, now: float) -> None:
        raise NotImplementedError

    def check_finished(self) -> None:
        if self.finished is None or self.finished.done() or perf() < self.end:
            return
        if not any(c.busy and c.transport is not None for c in self.clients):
            self.finished.set_result(None)


class ClosedRun(Run):
    def completed(self, client: Client, now: float) -> None:
        self.record(client, now, client.started)
        if now < self.end:
            client.send(now)
        else:
            self.check_finished()

    def begin(self) -> None:
        for client in self.clients:
            client.send(perf())


class OpenRun(Run):
    """Fixed arrival rate; a request with no free connection waits in a client-side backlog."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.rate = float(config["rate"])
        self.idle: collections.deque[Client] = collections.deque()
        self.backlog: collections.deque[float] = collections.deque()
        self.max_backlog = 0
        self.unsent = 0
        self.issued = 0
        self.t0 = 0.0

    def dispatch(self, scheduled: float) -> None:
        while self.idle:
            client = self.idle.popleft()  # FIFO: every connection stays warm
            if client.transport is not None:
                client.send(scheduled)
                return
        self.backlog.append(scheduled)
        self.max_backlog = max(self.max_backlog, len(self.backlog))

    def completed(self, client: Client, now: float) -> None:
        self.record(client, now, client.scheduled)
        if now >= self.end:
            self.drop_backlog()
        if self.backlog:
            client.send(self.backlog.popleft())
        else:
            self.idle.append(client)
            self.check_finished()

    def issue_due(self, now: float) -> bool:
        """Send every request scheduled by ``now``; False once the phase is over."""
        while True:
            scheduled = self.t0 + self.issued / self.rate
            if scheduled > now or scheduled >= self.end:
                break
            self.issued += 1
            self.dispatch(scheduled)
        if now < self.end:
            return True
        self.drop_backlog()
        self.check_finished()
        return False

    def tick(self) -> None:
        if self.issue_due(perf()):
            asyncio.get_running_loop().call_later(0.001, self.tick)

    def drop_backlog(self) -> None:
        """At the end, requests still waiting for a connection are counted, not sent."""
        self.unsent += len(self.backlog)
        self.backlog.clear()

    def check_finished(self) -> None:
        if self.backlog:
            return
        super().check_finished()

    def start(self) -> None:
        self.idle.extend(self.clients)
        self.t0 = perf()

    def begin(self) -> None:
        self.start()
        self.tick()


# --- what is requested --------------------------------------------------------------------------


def request_factories(config: dict[str, Any], count: int) -> list[Callable[[], bytes]]:
    """One factory per connection; each returns the bytes of the next request."""
    host = f"127.0.0.1:{config['port']}"
    kind = config["kind"]
    agents: list[list[str]] = config["agents"]  # [name, token] pairs
    factories: list[Callable[[], bytes]] = []
    for index in range(count):
        name, token = agents[index % len(agents)][:2]
        headers = {"Authorization": f"Bearer {token}"}
        if kind == "heartbeat" and config.get("ids"):
            factories.append(_heartbeat_with_ids(config, index, name, host, headers))
        elif kind == "heartbeat":
            body = dumps({"status": "working", "context_tokens": 20_000 + index, "note": "bench"})
            request = http_request("POST", f"/api/v1/agents/{name}/heartbeat", host, headers, body)
            factories.append(_constant(request))
        elif kind == "batch":
            factories.append(_batch_factory(config, index, host, headers))
        elif kind == "step":
            factories.append(_step_factory(config, index, host, headers))
        else:
            raise SystemExit(f"unknown request kind {kind!r}")
    return factories


def _constant(request: bytes) -> Callable[[], bytes]:
    return lambda: request


def _heartbeat_with_ids(
    config: dict[str, Any], index: int, name: str, host: str, headers: dict[str, str]
) -> Callable[[], bytes]:
    """Each heartbeat with its own client id, as a client that retries safely sends them."""
    path = f"/api/v1/agents/{name}/heartbeat"
    prefix = f"{config['run_id']}-{index}-"
    counter = iter(range(10**9))

    def build() -> bytes:
        body = {"id": f"{prefix}{next(counter)}", "status": "working", "context_tokens": 20_000}
        return http_request("POST", path, host, headers, dumps(body))

    return build


def _batch_factory(
    config: dict[str, Any], index: int, host: str, headers: dict[str, str]
) -> Callable[[], bytes]:
    size = int(config["batch_size"])
    prefix = f"{config['run_id']}-{index}-"
    path = config.get("path", "/api/v1/batch")
    counter = iter(range(10**9))

    def build() -> bytes:
        n = next(counter)
        events = [
            {
                "id": f"{prefix}{n}-{i}",
                "type": "bench.tool_called",
                "subject": "bench",
                "data": {"tool": "web.search", "ms": 120 + i % 50, "i": i},
            }
            for i in range(size)
        ]
        return http_request("POST", path, host, headers, dumps({"events": events}))

    return build


# What the agent runtime sends for one task (src/mcos/runtime): the bodies it builds, client ids
# on the reports its outbox delivers. Each connection is one agent working on its own task.
STEP_KINDS = ("heartbeat", "move", "action", "usage", "comment", "budget_check")


def _step_factory(
    config: dict[str, Any], index: int, host: str, headers: dict[str, str]
) -> Callable[[], bytes]:
    step = config["step"]
    name, _token, task_id, model = config["agents"][index % len(config["agents"])]
    prefix = f"{config['run_id']}-{index}-"
    counter = iter(range(10**9))
    if step == "heartbeat":  # AgentLoop.heartbeat while working on a task
        body = {
            "status": "working",
            "context_tokens": 3_412,
            "context_window": 200_000,
            "outbox_pending": 0,
            "current_task": task_id,
        }
        return _constant(
            http_request("POST", f"/api/v1/agents/{name}/heartbeat", host, headers, dumps(body))
        )
    if step == "move":  # the move to in_progress (asked), then to review (a report: an id)
        path = f"/api/v1/tasks/{task_id}/move"

        def move() -> bytes:
            n = next(counter)
            body = (
                {"status": "in_progress"} if n % 2 else {"id": f"{prefix}{n}", "status": "review"}
            )
            return http_request("POST", path, host, headers, dumps(body))

        return move
    if step == "action":  # write_file asks before writing: the absolute path, one file
        body = {
            "kind": "file.write",
            "paths": [f"/var/lib/mcos/workspaces/{name}/report.md"],
            "files_touched": 1,
            "reason": f"task #{task_id}",
        }
        return _constant(http_request("POST", "/api/v1/actions", host, headers, dumps(body)))
    if step == "usage":  # one per model call, through the outbox
        path = f"/api/v1/agents/{name}/usage"

        def usage() -> bytes:
            body = {
                "model": model,
                "input_tokens": 1_830,
                "output_tokens": 42,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "latency_ms": 812,
                "task_id": task_id,
                "id": f"{prefix}{next(counter)}",
            }
            return http_request("POST", path, host, headers, dumps(body))

        return usage
    if step == "comment":  # the task's summary, through the outbox
        path = f"/api/v1/tasks/{task_id}/comments"
        text = "Wrote report.md in the workspace: the three figures asked for, with sources. " * 3

        def comment() -> bytes:
            body = {"body": text.strip(), "id": f"{prefix}{next(counter)}"}
            return http_request("POST", path, host, headers, dumps(body))

        return comment
    if step == "budget_check":  # before a model call when the local lease ran out
        body = {"estimated_tokens": 1_900, "estimated_usd": 0.0061}
        path = f"/api/v1/agents/{name}/budget/check"
        return _constant(http_request("POST", path, host, headers, dumps(body)))
    raise SystemExit(f"unknown step {step!r}")


async def connect_all(run: Run, factories: list[Callable[[], bytes]], port: int) -> None:
    loop = asyncio.get_running_loop()
    for factory in factories:
        _, client = await loop.create_connection(
            functools.partial(Client, run, factory), "127.0.0.1", port
        )
        run.clients.append(client)


async def http_phase(config: dict[str, Any]) -> dict[str, Any]:
    run: ClosedRun | OpenRun = OpenRun(config) if config["mode"] == "open" else ClosedRun(config)
    await connect_all(run, request_factories(config, int(config["connections"])), config["port"])
    loop = asyncio.get_running_loop()
    run.finished = loop.create_future()
    start = perf()
    run.measure_from = start + run.warmup
    run.end = run.measure_from + run.duration
    run.begin()
    await asyncio.sleep(run.warmup)
    cpu_at = cpu_seconds()
    await asyncio.sleep(run.duration)
    cpu = cpu_seconds() - cpu_at
    try:
        await asyncio.wait_for(run.finished, timeout=float(config.get("drain_seconds", 30)))
        timed_out = 0
    except TimeoutError:
        timed_out = sum(1 for c in run.clients if c.busy)
        run.errors += timed_out
    for client in run.clients:
        if client.transport is not None:
            client.transport.close()
    return figures(run, cpu, timed_out)


def figures(run: Run, cpu: float, timed_out: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "requests_per_s": round(run.in_window / run.duration, 1),
        "requests": len(run.latencies),
        "completed_total": run.total,
        "errors": run.errors,
        "timed_out": timed_out,
        "error_samples": dict(run.error_samples),
        "connections": len(run.clients),
        "loadgen_cpu_pct": round(100 * cpu / run.duration, 1),
        **percentiles(run.latencies),
    }
    if isinstance(run, OpenRun):
        result["target_rate"] = run.rate
        result["max_backlog"] = run.max_backlog
        result["unsent"] = run.unsent
    return result


# --- a fleet's mixed traffic --------------------------------------------------------------------

FLEET_PATHS = {
    "heartbeat": "/api/v1/agents/{name}/heartbeat",
    "usage": "/api/v1/agents/{name}/usage",
    "event": "/api/v1/events",
    "probe": "/api/v1/events",
}


def fleet_factory(
    stream: dict[str, Any], host: str, window: dict[str, float]
) -> Callable[[], bytes]:
    """The next request of one stream, shared by its connections: the stream's agents in turn,
    so at ``rate = agents / period`` each agent reports once per period. Reports that retry
    safely carry a client id, as the runtime's outbox sends them; probes carry the send time."""
    kind = stream["kind"]
    agents: list[list[str]] = stream["agents"]  # [name, token] pairs
    template = FLEET_PATHS[kind]
    per_agent = []
    for name, token in agents:
        headers = {"Authorization": f"Bearer {token}"}
        if stream.get("as_agent"):
            headers["X-MCOS-Agent"] = name  # a runner token, acting as one of its agents
        per_agent.append((name, template.format(name=name), headers))
    if kind == "heartbeat":  # built in advance: the hottest request, and the same every period
        ready = [
            http_request(
                "POST",
                path,
                host,
                headers,
                dumps({"status": "working", "context_tokens": 20_000 + 7 * i, "note": "bench"}),
            )
            for i, (_, path, headers) in enumerate(per_agent)
        ]
        return functools.partial(next, itertools.cycle(ready))
    counter = itertools.count()
    prefix = f"{stream['run_id']}-"

    def build() -> bytes:
        n = next(counter)
        name, path, headers = per_agent[n % len(per_agent)]
        body: dict[str, Any]
        if kind == "usage":
            body = {"input_tokens": 1_200, "output_tokens": 150, "latency_ms": 900}
        elif kind == "event":
            data = {"agent": name, "tool": "web.search", "ms": 120 + n % 50}
            body = {"type": "bench.tool_called", "subject": "bench", "data": data}
        else:  # probe: stamped now; during the warm-up as bench_warm, which subscribers ignore
            key = "bench_sent" if perf() >= window["measure_from"] else "bench_warm"
            if key == "bench_sent":
                window["probes_measured"] += 1
            data = {key: time.time(), "bench_via": stream["via"], "bench_id": f"{prefix}{n}"}
            body = {"type": "bench.fanout", "data": data}
        return http_request("POST", path, host, headers, dumps({"id": f"{prefix}{n}"} | body))

    return build


async def fleet_phase(config: dict[str, Any]) -> dict[str, Any]:
    """Several fixed-rate streams at once (kinds of request, servers), one clock, one window.

    Prints ``measuring`` when the measured window opens and ``measured`` when it closes, so the
    parent can read the servers' CPU over exactly that window."""
    window = {"measure_from": float("inf"), "probes_measured": 0.0}
    runs: dict[str, OpenRun] = {}
    for stream in config["streams"]:
        run = OpenRun(config | stream)
        factory = fleet_factory(stream, f"127.0.0.1:{stream['port']}", window)
        await connect_all(run, [factory] * int(stream["connections"]), int(stream["port"]))
        runs[stream["name"]] = run
    loop = asyncio.get_running_loop()
    start = perf()
    for run in runs.values():
        run.finished = loop.create_future()
        run.measure_from = window["measure_from"] = start + run.warmup
        run.end = run.measure_from + run.duration
        run.start()

    def tick() -> None:  # one timer for every stream
        now = perf()
        if [run.issue_due(now) for run in runs.values()].count(True):
            loop.call_later(0.001, tick)

    tick()
    duration = float(config["duration"])
    await asyncio.sleep(float(config["warmup"]))
    print("measuring", flush=True)
    cpu_at = cpu_seconds()
    await asyncio.sleep(duration)
    cpu = cpu_seconds() - cpu_at
    print("measured", flush=True)
    pending = [run.finished for run in runs.values() if run.finished is not None]
    await asyncio.wait(pending, timeout=float(config.get("drain_seconds", 30)))
    result: dict[str, Any] = {
        "loadgen_cpu_pct": round(100 * cpu / duration, 1),
        "probes_measured": int(window["probes_measured"]),
        "streams": {},
        "kinds": {},
    }
    by_kind: dict[str, list[OpenRun]] = collections.defaultdict(list)
    for stream in config["streams"]:
        run = runs[stream["name"]]
        by_kind[stream["kind"]].append(run)
        timed_out = 0 if run.finished and run.finished.done() else sum(c.busy for c in run.clients)
        run.errors += timed_out
        for client in run.clients:
            if client.transport is not None:
                client.transport.close()
        result["streams"][stream["name"]] = figures(run, 0.0, timed_out)
        del result["streams"][stream["name"]]["loadgen_cpu_pct"]
    for kind, group in by_kind.items():  # every server's requests of one kind together
        result["kinds"][kind] = {
            "requests_per_s": round(sum(r.in_window for r in group) / duration, 1),
            "target_rate": round(sum(r.rate for r in group), 1),
            "requests": sum(len(r.latencies) for r in group),
            "errors": sum(r.errors for r in group),
            "unsent": sum(r.unsent for r in group),
            **percentiles([x for r in group for x in r.latencies]),
            # Requests scheduled before the window but answered in it; with the ones above, the
            # latency of everything answered in the window (how far behind a server is).
            "with_backlog": {
                **percentiles([x for r in group for x in r.latencies + r.late]),
            },
        }
    return result


# --- Server-Sent Events -------------------------------------------------------------------------


class Subscriber(asyncio.Protocol):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.now = 0.0
        self.status = 0
        self.connected = False
        self.received = 0
        self.resyncs = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        transport.write(self.hub.request)

    def data_received(self, data: bytes) -> None:
        self.now = time.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.hub.errors[f"unparseable stream: {exc}"] += 1
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.hub.closing:
            self.hub.errors["stream closed by the server"] += 1
        self.hub.changed()

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.status != 200:
            self.hub.errors[f"stream answered HTTP {self.status}"] += 1

    def on_body(self, body: bytes) -> None:
        buffer = self.buffer + body
        cut = buffer.rfind(b"\n\n")
        if cut < 0:
            self.buffer = buffer
            return
        complete, self.buffer = buffer[:cut], buffer[cut + 2 :]
        if not self.connected:
            self.connected = True
            self.hub.changed()
        hist = self.hub.hist
        now = self.now
        n = 0
        for sent in SENT.findall(complete):
            bucket = int((now - float(sent)) * BUCKETS_PER_SECOND)
            hist[bucket if 0 <= bucket < MAX_BUCKET else (0 if bucket < 0 else MAX_BUCKET)] += 1
            n += 1
        if n and self.hub.by_origin is not None:
            self.hub.count_by_origin(complete, now)
        if n:
            self.received += n
            if self.hub.expected and self.received >= self.hub.expected:
                self.hub.changed()
        if b"event: stream.resync" in complete:
            self.resyncs += 1


class Hub:
    def __init__(self, request: bytes, *, by_origin: bool = False) -> None:
        self.request = request
        self.hist = [0] * (MAX_BUCKET + 1)
        # With by_origin, also one histogram per "bench_via" of the events: which server the
        # producer sent each through (the fan-out between replicas).
        self.by_origin: dict[str, list[int]] | None = {} if by_origin else None
        # When each probe arrived here, by origin and "bench_id", to compare between servers.
        self.arrivals: dict[str, dict[str, float]] = {}
        self.errors: collections.Counter[str] = collections.Counter()
        self.subscribers: list[Subscriber] = []
        self.expected = 0
        self.closing = False
        self.event = asyncio.Event()

    def changed(self) -> None:
        self.event.set()

    def count_by_origin(self, frames: bytes, now: float) -> None:
        assert self.by_origin is not None
        for frame in frames.split(b"\n\n"):
            sent, via = SENT.search(frame), VIA.search(frame)
            if sent is None or via is None:
                continue
            origin = via[1].decode()
            probe = PROBE_ID.search(frame)
            if probe is not None:
                self.arrivals.setdefault(origin, {})[probe[1].decode()] = now
            hist = self.by_origin.setdefault(origin, [0] * (MAX_BUCKET + 1))
            bucket = int((now - float(sent[1])) * BUCKETS_PER_SECOND)
            hist[bucket if 0 <= bucket < MAX_BUCKET else (0 if bucket < 0 else MAX_BUCKET)] += 1

    async def until(self, condition: Callable[[], bool], seconds: float) -> bool:
        deadline = perf() + seconds
        while not condition():
            remaining = deadline - perf()
            if remaining <= 0:
                return False
            self.event.clear()
            try:
                await asyncio.wait_for(self.event.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass
        return True


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def subscribe_phase(config: dict[str, Any]) -> dict[str, Any]:
    port = config["port"]
    headers = {"Accept": "text/event-stream"}
    if config.get("token"):
        headers["Authorization"] = f"Bearer {config['token']}"
    request = http_request("GET", config["path"], f"127.0.0.1:{port}", headers, b"")
    hub = Hub(request, by_origin=bool(config.get("by_origin")))
    loop = asyncio.get_running_loop()
    count = int(config["subscribers"])
    for start in range(0, count, 50):  # in waves, as a fleet of dashboards would arrive
        made = await asyncio.gather(
            *(
                loop.create_connection(lambda: Subscriber(hub), "127.0.0.1", port)
                for _ in range(start, min(count, start + 50))
            )
        )
        hub.subscribers.extend(protocol for _, protocol in made)
    connected = await hub.until(lambda: all(s.connected for s in hub.subscribers), 60)
    print(f"ready {sum(s.connected for s in hub.subscribers)}", flush=True)
    if not connected:
        hub.errors["not every subscriber connected within 60 s"] += 1
    cpu_at = cpu_seconds()
    started = perf()
    command = (await read_line()).split()
    if not command or command[0] != "drain":
        raise SystemExit(f"expected 'drain EXPECTED SECONDS' on stdin, got {command!r}")
    hub.expected = int(command[1])
    drained = await hub.until(
        lambda: all(s.received >= hub.expected or s.closed for s in hub.subscribers),
        float(command[2]),
    )
    busy = perf() - started
    cpu = cpu_seconds() - cpu_at
    hub.closing = True
    for subscriber in hub.subscribers:
        if subscriber.transport is not None:
            subscriber.transport.close()
    delivered = sum(s.received for s in hub.subscribers)
    return {
        "subscribers": count,
        "connected": sum(s.connected for s in hub.subscribers),
        "expected_per_subscriber": hub.expected,
        "delivered": delivered,
        "missing": max(0, hub.expected * count - delivered),
        "drained": drained,
        "resyncs": sum(s.resyncs for s in hub.subscribers),
        "errors": sum(hub.errors.values()),
        "error_samples": dict(hub.errors),
        "loadgen_cpu_pct": round(100 * cpu / busy, 1) if busy else None,
        **histogram_percentiles(hub.hist),
        **(
            {
                "by_origin": {
                    via: {"delivered": sum(hist), **histogram_percentiles(hist)}
                    for via, hist in sorted(hub.by_origin.items())
                },
                "arrivals": hub.arrivals,
            }
            if hub.by_origin is not None
            else {}
        ),
    }


async def produce_phase(config: dict[str, Any]) -> dict[str, Any]:
    """Post ``rate`` events/s in posts of ``batch_size``, each stamped at the moment it is sent."""
    port = config["port"]
    host = f"127.0.0.1:{port}"
    size = int(config["batch_size"])
    headers = {"Authorization": f"Bearer {config['token']}"} if config.get("token") else {}
    warmup = float(config["warmup"])
    state = {"n": 0, "measured": 0, "phase_end_warm": 0.0}

    def build() -> bytes:
        now = time.time()
        key = "bench_warm" if perf() < state["phase_end_warm"] else "bench_sent"
        first = state["n"]
        state["n"] += size
        if key == "bench_sent":
            state["measured"] += size
        events = [
            {
                "id": f"{config['run_id']}-{first + i}",
                "type": "bench.stream_probe",
                "subject": "bench",
                "data": {key: now, "n": first + i},
            }
            for i in range(size)
        ]
        return http_request("POST", config["path"], host, headers, dumps({"events": events}))

    interval = size / float(config["rate"])
    run = OpenRun(config | {"rate": 1 / interval, "duration": config["duration"]})
    await connect_all(run, [build] * int(config.get("connections", 4)), port)
    run.finished = asyncio.get_running_loop().create_future()
    start = perf()
    state["phase_end_warm"] = start + warmup
    run.measure_from = start + warmup
    run.end = run.measure_from + float(config["duration"])
    run.begin()
    try:
        await asyncio.wait_for(run.finished, timeout=run.end - perf() + 30)
    except TimeoutError:
        run.errors += sum(1 for c in run.clients if c.busy)
    for client in run.clients:
        if client.transport is not None:
            client.transport.close()
    return {
        "events_sent": state["n"],
        "events_measured": state["measured"],
        "posts_per_s": round(run.in_window / run.duration, 1),
        "errors": run.errors,
        "error_samples": dict(run.error_samples),
        "max_backlog": run.max_backlog,
        "unsent_posts": run.unsent,
        "post_latency": percentiles(run.latencies),
    }


def main() -> None:
    # A big configuration (a fleet's tokens) comes as a file, ``@PATH``: one argument is
    # limited to 128 KiB.
    given = sys.argv[1]
    config = json.loads(Path(given[1:]).read_text() if given.startswith("@") else given)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65_536)), hard))
    except (ValueError, OSError):
        pass
    phases = {
        "closed": http_phase,
        "open": http_phase,
        "subscribe": subscribe_phase,
        "produce": produce_phase,
        "fleet": fleet_phase,
    }
    runner = phases[config["mode"]]
    try:
        import uvloop

        result = uvloop.run(runner(config))
    except ImportError:
        result = asyncio.run(runner(config))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
