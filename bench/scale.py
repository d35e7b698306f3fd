"""Scale-out benchmark: a big fleet reporting through several ``mcos serve`` replicas that share
one PostgreSQL database.

Self-contained: it makes a PostgreSQL database for the run (dropped at the end), writes a fleet
of ``--agents`` agents on machines of 50 (``bench/_fleet.py``) with ``mcos init``, starts
``--replicas`` ``mcos serve`` processes on it and issues one runner token per machine, as
``mcos run`` does. One load-generator process (``bench/_load.py``, mode ``fleet``) then sends, at
fixed rates and open loop, every agent's heartbeat once per ``--heartbeat-every`` seconds, a
usage report per ``--usage-every`` and an event per ``--event-every``, each agent always through
the same replica (agent i through replica i mod R). Stamped probe events posted to each replica
and a stream subscriber on each replica measure the fan-out between replicas.

    python bench/scale.py [--tiny] [--agents N] [--replicas R] [--duration S] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
from _fleet import agent_name, fleet_toml, machine_count, machine_name, machine_of
from _load import percentiles
from _machine import machine, machine_busy, memory_of, postgres_cpu_seconds, process_cpu_seconds
from _scale_report import print_report
from _servers import Server, database
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
PROBE_TYPE = "bench.fanout"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--tiny", action="store_true", help="50 agents, 2 replicas, 3 s: proves it runs.")
    add("--agents", type=int, help="Agents in the fleet (default 10,000).")
    add("--replicas", type=int, help="mcos serve processes on the one database (default 3).")
    add("--duration", type=float, help="Seconds measured (default 60).")
    add("--warmup", type=float, help="Seconds of load before the measured window (default 15).")
    add("--heartbeat-every", type=float, help="Seconds between an agent's heartbeats (10).")
    add("--usage-every", type=float, help="Seconds between an agent's usage reports (60).")
    add("--event-every", type=float, help="Seconds between an agent's events (60).")
    add("--probe-rate", type=float, help="Stamped events/s posted to each replica (5).")
    add("--connections", type=int, help="Heartbeat connections per replica (default 64).")
    add("--idle", type=float, help="Seconds measured after the load, nothing sent (default 15).")
    add(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/",
        help="PostgreSQL server; a database is made there for the run and dropped.",
    )
    add("--json-out", type=Path, help="Also write the figures here as JSON.")
    add("--keep", action="store_true", help="Keep the temporary fleet folder (and the logs).")
    add("--profile", type=Path, help="Run replica 0 under cProfile; write its pstats here.")
    args = parser.parse_args()
    tiny = args.tiny
    args.agents = args.agents or (50 if tiny else 10_000)
    args.replicas = args.replicas or (2 if tiny else 3)
    args.duration = args.duration or (3.0 if tiny else 60.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if tiny else 15.0)
    args.heartbeat_every = args.heartbeat_every or (1.0 if tiny else 10.0)
    args.usage_every = args.usage_every or (5.0 if tiny else 60.0)
    args.event_every = args.event_every or (2.0 if tiny else 60.0)
    args.probe_rate = args.probe_rate or 5.0
    args.connections = args.connections or (8 if tiny else 64)
    args.idle = args.idle if args.idle is not None else (1.0 if tiny else 15.0)
    args.drain = 30.0
    if args.agents < args.replicas:
        parser.error("--agents must be at least --replicas: every replica serves some agents")
    return args


# --- the fleet and its replicas ------------------------------------------------------------------


def runner_tokens(server: Server, operator_token: str, machines: int) -> dict[str, str]:
    """One runner token per machine, as ``mcos run`` issues them: agents act through it."""
    headers = {"Authorization": f"Bearer {operator_token}"}
    tokens = {}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        for m in range(machines):
            body = {"kind": "runner", "machine": machine_name(m), "label": "bench"}
            issued = client.post("/api/v1/tokens", json=body)
            issued.raise_for_status()
            tokens[machine_name(m)] = issued.json()["token"]
    return tokens


def streams(args: argparse.Namespace, replicas: list[Server], tokens: dict[str, str]) -> list[Any]:
    """What the load generator sends: per replica, its agents' heartbeats, usage and events at
    their periods, and probes stamped for the fan-out."""
    run_id = uuid.uuid4().hex[:10]
    out: list[dict[str, Any]] = []
    for r, server in enumerate(replicas):
        mine = [
            [agent_name(i), tokens[machine_of(i, args.agents)]]
            for i in range(r, args.agents, len(replicas))
        ]
        common = {"port": server.port, "agents": mine, "as_agent": True}
        for kind, every, connections in (
            # Heartbeats wait together for one commit: their connections are the batch.
            ("heartbeat", args.heartbeat_every, args.connections),
            ("usage", args.usage_every, max(1, args.connections // 4)),
            ("event", args.event_every, max(1, args.connections // 4)),
        ):
            out.append(
                common
                | {
                    "name": f"{kind}@r{r}",
                    "kind": kind,
                    "rate": len(mine) / every,
                    "connections": connections,
                    "run_id": f"{run_id}-{kind}-r{r}",
                }
            )
        out.append(
            common
            | {
                "name": f"probe@r{r}",
                "kind": "probe",
                "agents": mine[:5],
                "rate": args.probe_rate,
                "connections": 8,
                "via": f"r{r}",
                "run_id": f"{run_id}-probe-r{r}",
            }
        )
    return out


class Subscriber:
    """A stream subscriber on one replica (``_load.py subscribe``), following the probes."""

    def __init__(self, server: Server, token: str) -> None:
        config = {
            "mode": "subscribe",
            "port": server.port,
            "path": f"/api/v1/stream?types={PROBE_TYPE}",
            "token": token,
            "subscribers": 1,
            "by_origin": True,
        }
        self.errors: IO[str] = tempfile.TemporaryFile("w+")  # a file never fills up and blocks
        self.process = subprocess.Popen(
            [PYTHON, str(HERE / "_load.py"), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise self.failure("failed to start")

    def failure(self, what: str) -> SystemExit:
        self.errors.seek(0)
        return SystemExit(f"stream subscriber {what}:\n{self.errors.read()[-3000:]}")

    def drain(self, expected: int, seconds: float) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"drain {expected} {seconds}\n")
        self.process.stdin.flush()

    def result(self, seconds: float) -> dict[str, Any]:
        out, _ = self.process.communicate(timeout=seconds + 60)
        lines = out.strip().splitlines()
        if self.process.returncode != 0 or not lines:
            raise self.failure("failed")
        figures: dict[str, Any] = json.loads(lines[-1])
        return figures

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def between_replicas(fanout: list[dict[str, Any]]) -> dict[str, Any]:
    """How much later a probe reached another replica's stream than its own replica's: the
    fan-out itself, without the write both wait for. Pairs each probe's two arrival times
    (same machine, same clock); negative when the other replica was first."""
    delays = []
    for origin, figures in enumerate(fanout):
        own = figures.get("arrivals", {}).get(f"r{origin}", {})
        for reader, other in enumerate(fanout):
            if reader == origin:
                continue
            seen = other.get("arrivals", {}).get(f"r{origin}", {})
            delays += [seen[probe] - at for probe, at in own.items() if probe in seen]
    for figures in fanout:  # the raw arrival times are large and said all they had to
        figures.pop("arrivals", None)
    return {"pairs": len(delays), **percentiles(delays), "min_ms": _ms(min(delays, default=None))}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


# --- what the processes use ----------------------------------------------------------------------


class Snapshot:
    """CPU of the replicas, of PostgreSQL (this database's backends, and all of it) and of the
    machine, at one moment."""

    def __init__(self, replicas: list[Server], admin: psycopg.Connection[Any], name: str) -> None:
        self.at = time.monotonic()
        self.replicas = [process_cpu_seconds(r.pid) for r in replicas]
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        self.backends = {int(pid) for (pid,) in rows.fetchall()}
        self.postgres, self.reaped = postgres_cpu_seconds()
        self.busy = machine_busy()
        self.load = [round(x, 2) for x in os.getloadavg()]


def window(start: Snapshot, end: Snapshot, replicas: list[Server]) -> dict[str, Any]:
    """What each process used between two snapshots, as % of one core."""
    elapsed = end.at - start.at

    def pct(seconds: float) -> float:
        return round(100 * seconds / elapsed, 1)

    ours = sum(
        end.postgres[pid] - start.postgres.get(pid, 0.0)
        for pid in end.backends | start.backends
        if pid in end.postgres
    )
    # Every PostgreSQL process, this run's or not: those alive at the end, plus those that exited
    # in the window (their whole life is in the postmaster's reaped time; less what it had used
    # before the window, counted at the start).
    gone = sum(cpu for pid, cpu in start.postgres.items() if pid not in end.postgres)
    alive = sum(cpu - start.postgres.get(pid, 0.0) for pid, cpu in end.postgres.items())
    everything = alive + (end.reaped - start.reaped) - gone
    busy = (end.busy[0] - start.busy[0]) / max(1, end.busy[1] - start.busy[1])
    return {
        "seconds": round(elapsed, 2),
        "replica_cpu_pct": [pct(b - a) for a, b in zip(start.replicas, end.replicas, strict=True)],
        "replica_memory": [memory_of(r.pid) for r in replicas],
        "postgres_backends_cpu_pct": pct(ours),
        "postgres_all_cpu_pct": pct(everything) if end.postgres else None,
        "machine_busy_pct": round(100 * busy * (os.cpu_count() or 1), 1),
        "load_average_start": start.load,
        "load_average_end": end.load,
    }


# --- the run --------------------------------------------------------------------------------------


def drive(
    args: argparse.Namespace,
    folder: Path,
    replicas: list[Server],
    config: dict[str, Any],
    snapshot: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the load generator; snapshot when it opens and closes its measured window."""
    path = folder / "load.json"
    path.write_text(json.dumps(config))
    errors = tempfile.TemporaryFile("w+")
    load = subprocess.Popen(
        [PYTHON, str(HERE / "_load.py"), f"@{path}"],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    assert load.stdout is not None
    marks: dict[str, Any] = {}
    try:
        for line in load.stdout:
            word = line.strip()
            if word in ("measuring", "measured"):
                marks[word] = snapshot()
                print(f"  {word} ...", flush=True)
            elif word.startswith("{"):
                marks["result"] = json.loads(word)
        load.wait(args.drain + 60)
    finally:
        if load.poll() is None:
            load.kill()
    if load.returncode != 0 or "result" not in marks or "measured" not in marks:
        errors.seek(0)
        raise SystemExit(f"load generator failed:\n{errors.read()[-3000:]}")
    return marks["result"], window(marks["measuring"], marks["measured"], replicas)


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCOS_")}
    env |= {"XDG_CONFIG_HOME": str(folder / "config")}
    with database(args.database_url, folder) as url:
        env["MCOS_DATABASE_URL"] = url
        name = make_url(url).database or ""
        print(f"fleet in {folder}; database {name}", flush=True)
        fleet = folder / "fleet"
        subprocess.run(
            [PYTHON, "-m", "mcos", "init", str(fleet)], env=env, check=True, capture_output=True
        )
        (fleet / "fleet.toml").write_text(fleet_toml(args.agents), encoding="utf-8")
        operator_token = (fleet / ".mcos" / "operator.token").read_text().strip()
        serve = [PYTHON, "-m", "mcos", "serve", "--fleet", str(fleet), "--port", "{port}"]
        replicas = [
            Server(f"replica {r}", serve, env, folder / f"replica-{r}.log")
            for r in range(args.replicas)
        ]
        if args.profile:  # as ingest.py --profile: one cProfile per thread, written on SIGINT
            profiled = [PYTHON, str(HERE / "_profile_server.py"), str(fleet), "{port}"]
            replicas[0] = Server(
                "replica 0", [*profiled, str(args.profile)], env, folder / "replica-0.log"
            )
        subscribers: list[Subscriber] = []
        admin_url = make_url(url).set(drivername="postgresql", database="postgres")
        try:
            began = time.monotonic()
            for server in replicas:  # the first one makes the schema and writes the fleet's
                server.start("/api/v1/health", timeout=600)  # agents; the others find them
            print(f"  {args.replicas} replicas up in {time.monotonic() - began:.1f} s", flush=True)
            tokens = runner_tokens(replicas[0], operator_token, machine_count(args.agents))
            subscribers = [Subscriber(server, operator_token) for server in replicas]
            config = {
                "mode": "fleet",
                "duration": args.duration,
                "warmup": args.warmup,
                "drain_seconds": args.drain,
                "streams": streams(args, replicas, tokens),
            }
            with psycopg.connect(
                admin_url.render_as_string(hide_password=False), autocommit=True
            ) as admin:
                load, used = drive(
                    args, folder, replicas, config, lambda: Snapshot(replicas, admin, name)
                )
                # What a fleet this size costs with nothing coming in: the liveness and
                # supervision sweeps of every replica, the fan-out's polls.
                print("  idle ...", flush=True)
                before = Snapshot(replicas, admin, name)
                time.sleep(args.idle)
                idle = window(before, Snapshot(replicas, admin, name), replicas)
            for subscriber in subscribers:
                subscriber.drain(load["probes_measured"], args.drain)
            fanout = [subscriber.result(args.drain) for subscriber in subscribers]
            between = between_replicas(fanout)
            health = httpx.get(replicas[0].url + "/api/v1/health", timeout=10).json()
        finally:
            for subscriber in subscribers:
                subscriber.stop()
            for server in replicas:
                server.stop(
                    signal.SIGINT if args.profile and server is replicas[0] else signal.SIGTERM
                )
    return {
        "agents": args.agents,
        "replicas": args.replicas,
        "machines": machine_count(args.agents),
        "load": load,
        "used": used,
        "idle": idle,
        "fanout": fanout,
        "between_replicas": between,
        "event_log_last_seq": health.get("last_seq"),
    }


def main() -> None:
    args = parse_args()
    info = machine()
    print(
        f"{info['nproc']} x {info['cpu']}, Python {info['python']}, uvicorn {info.get('uvicorn')},"
        f" load average {info['load_average_at_start']}"
    )
    folder = Path(tempfile.mkdtemp(prefix="mcos-scale-"))
    started = time.monotonic()
    try:
        results = run(args, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    summary = print_report(results, args)
    print(f"\n{time.monotonic() - started:.0f} s in all")
    if args.json_out:
        document = {
            "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": info,
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "summary": summary,
            "results": results,
        }
        args.json_out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"figures written to {args.json_out}")


if __name__ == "__main__":
    main()
