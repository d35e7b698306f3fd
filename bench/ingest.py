"""Ingest benchmark of the control plane: heartbeats, batches and the live stream, against a bare
Starlette app measured in the same run.

Self-contained: it writes a fleet with ``mcos init`` into a temporary folder, starts ``mcos serve``
and the bare app (``bench/_bare.py``) as subprocesses on free ports of 127.0.0.1, and drives them
from separate load-generator processes (``bench/_load.py``: raw asyncio sockets, pre-built
requests). SQLite by default; ``--database-url postgresql+psycopg://postgres@127.0.0.1:5432/NAME``
creates the database NAME for the run and drops it afterwards. The machine is noisy, so read the
ratios against the bare app rather than the absolute figures.

    python bench/ingest.py [--quick | --tiny] [--duration S] [--json-out PATH] [--profile DIR]
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
from typing import Any

import httpx
from _load import STEP_KINDS
from _machine import Meter, machine, memory_of
from _report import PROFILE_COMPONENTS, print_table, profile_components, report
from _servers import Server, database, database_baseline

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


# --- load generator processes --------------------------------------------------------------------


def load(config: dict[str, Any]) -> dict[str, Any]:
    """Run one phase of the load generator in its own process and return its figures."""
    timeout = float(config.get("duration", 0)) + float(config.get("warmup", 0)) + 180
    done = subprocess.run(
        [PYTHON, str(HERE / "_load.py"), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"load generator failed ({config['mode']}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def sse_phase(
    server: Server, sub_path: str, pub_path: str, token: str | None, subscribers: int, args: Any
) -> dict[str, Any]:
    """N subscribers in one process, a producer in another, events stamped with time.time()."""
    config = {"mode": "subscribe", "port": server.port, "path": sub_path, "token": token}
    errors = tempfile.TemporaryFile("w+")  # a file, not a pipe: it can never fill up and block
    sub = subprocess.Popen(
        [PYTHON, str(HERE / "_load.py"), json.dumps(config | {"subscribers": subscribers})],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    assert sub.stdin is not None and sub.stdout is not None

    def failure(what: str) -> SystemExit:
        errors.seek(0)
        return SystemExit(f"subscribers {what}:\n{errors.read()[-3000:]}")

    try:
        ready = sub.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise failure("failed to start")
        producer = load(
            {
                "mode": "produce",
                "port": server.port,
                "path": pub_path,
                "token": token,
                "rate": args.sse_rate,
                "batch_size": args.sse_batch,
                "connections": 8,
                "duration": args.duration,
                "warmup": args.warmup,
                "run_id": f"sse-{uuid.uuid4().hex[:10]}",
            }
        )
        sub.stdin.write(f"drain {producer['events_measured']} {args.drain}\n")
        sub.stdin.flush()
        out, _ = sub.communicate(timeout=args.drain + 120)
    except BaseException:
        sub.kill()
        raise
    lines = out.strip().splitlines()
    if sub.returncode != 0 or not lines:
        raise failure("failed")
    result: dict[str, Any] = json.loads(lines[-1])
    result["producer"] = producer
    return result


# --- the run ------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, help="Seconds measured per phase (default 10).")
    parser.add_argument("--warmup", type=float, help="Seconds of warm-up before each (default 2).")
    parser.add_argument("--quick", action="store_true", help="Small counts: a smoke run.")
    parser.add_argument(
        "--tiny", action="store_true", help="Half a second a phase: the tests' run."
    )
    parser.add_argument("--database-url", help="PostgreSQL URL; its database is made and dropped.")
    parser.add_argument("--json-out", type=Path, help="Also write the figures here as JSON.")
    parser.add_argument("--connections", type=int, help="Heartbeat connections (default 64).")
    parser.add_argument("--rate", type=float, help="Heartbeats/s of the fixed-rate phase (4000).")
    parser.add_argument("--batch-size", type=int, help="Events per batch (default 1000).")
    parser.add_argument("--batch-clients", type=int, default=4, help="Concurrent batch clients.")
    parser.add_argument("--subscribers", help="SSE subscriber counts (default '100,500').")
    parser.add_argument("--sse-rate", type=float, default=1000.0, help="Events/s into the stream.")
    parser.add_argument("--sse-batch", type=int, default=10, help="Events per producer post.")
    parser.add_argument(
        "--only", help="Comma-separated: db,http,batch,steps,sse (default all but steps)."
    )
    parser.add_argument(
        "--compare-src",
        type=Path,
        help="Steps only: also run a control plane from this src tree; per-kind CPU side by side.",
    )
    parser.add_argument("--compare-rounds", type=int, default=3, help="Rounds of --compare-src.")
    parser.add_argument(
        "--step-connections", type=int, default=8, help="Connections per request kind (steps)."
    )
    parser.add_argument("--profile", type=Path, help="Also profile the server under heartbeats.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary fleet folder.")
    args = parser.parse_args()

    def size(full: Any, quick: Any, tiny: Any) -> Any:
        return tiny if args.tiny else quick if args.quick else full

    args.duration = args.duration or size(10.0, 2.0, 0.5)
    args.warmup = args.warmup if args.warmup is not None else size(2.0, 0.5, 0.2)
    args.connections = args.connections or size(64, 16, 4)
    args.rate = args.rate or size(4000.0, 1000.0, 200.0)
    args.batch_size = args.batch_size or size(1000, 200, 50)
    args.subscribers = [
        int(n) for n in (args.subscribers or size("100,500", "20,50", "5")).split(",")
    ]
    args.drain = size(15.0, 5.0, 5.0)
    args.only = set((args.only or "db,http,batch,sse").split(","))
    return args


def issue_agent_tokens(server: Server, operator_token: str) -> list[list[str]]:
    headers = {"Authorization": f"Bearer {operator_token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        response = client.get("/api/v1/agents")
        response.raise_for_status()
        names = [agent["name"] for agent in response.json()["agents"]]
        pairs = []
        for name in names:
            issued = client.post(f"/api/v1/agents/{name}/tokens", json={"label": "bench"})
            issued.raise_for_status()
            pairs.append([name, issued.json()["token"]])
    return pairs


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    if args.compare_src:
        return compare_steps(args, folder)
    results: dict[str, Any] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCOS_")}
    env |= {"XDG_CONFIG_HOME": str(folder / "config")}
    with database(args.database_url, folder) as url:
        env["MCOS_DATABASE_URL"] = url
        backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        print(f"fleet in {folder}; database: {backend}", flush=True)
        subprocess.run(
            [PYTHON, "-m", "mcos", "init", str(folder / "fleet")],
            env=env,
            check=True,
            capture_output=True,
        )
        operator_token = (folder / "fleet" / ".mcos" / "operator.token").read_text().strip()
        mcos = Server(
            "mcos serve",
            [PYTHON, "-m", "mcos", "serve", "--fleet", str(folder / "fleet"), "--port", "{port}"],
            env,
            folder / "mcos.log",
        )
        bare = Server(
            "bare app", [PYTHON, str(HERE / "_bare.py"), "{port}"], env, folder / "bare.log"
        )
        try:
            mcos.start("/api/v1/health")
            bare.start("/health")
            agents = issue_agent_tokens(mcos, operator_token)
            results["backend"] = backend
            phases(args, folder, url, mcos, bare, agents, results, operator_token)
            results["memory"] = {"mcos": memory_of(mcos.pid), "bare": memory_of(bare.pid)}
            health = httpx.get(mcos.url + "/api/v1/health", timeout=10).json()
            results["event_log_last_seq"] = health.get("last_seq")
        finally:
            mcos.stop()
            bare.stop()
        if args.profile:
            results["profile"] = profile(args, folder, env, agents, operator_token)
    return results


def phases(
    args: argparse.Namespace,
    folder: Path,
    url: str,
    mcos: Server,
    bare: Server,
    agents: list[list[str]],
    results: dict[str, Any],
    operator_token: str = "",
) -> None:
    common = {"duration": args.duration, "warmup": args.warmup, "agents": agents}
    pids = {"server": mcos.pid}
    bare_pids = {"server": bare.pid}

    def measured(name: str, server_pids: dict[str, int], config: dict[str, Any]) -> None:
        print(f"  {name} ...", flush=True)
        with Meter(server_pids) as meter:
            figures = load(common | config)
        figures |= meter.result
        # CPU per request is steadier than requests/s on a shared machine.
        per = config.get("batch_size", 1) * figures["completed_total"]
        figures["server_cpu_us_per_item"] = round(1e6 * figures["server_cpu_s"] / max(1, per), 1)
        results[name] = figures

    if "db" in args.only:
        print("  database driver baseline ...", flush=True)
        results["db_baseline"] = database_baseline(url, folder, args.batch_size, args.duration)
    if "http" in args.only:
        closed = {"mode": "closed", "kind": "heartbeat", "connections": args.connections}
        opened = {"mode": "open", "kind": "heartbeat", "rate": args.rate, "connections": 128}
        measured("bare_post_closed", bare_pids, closed | {"port": bare.port})
        measured("heartbeat_closed", pids, closed | {"port": mcos.port})
        measured("bare_post_open", bare_pids, opened | {"port": bare.port})
        measured("heartbeat_open", pids, opened | {"port": mcos.port})
    if "batch" in args.only:
        measured(
            "batch",
            pids,
            {
                "mode": "closed",
                "kind": "batch",
                "port": mcos.port,
                "connections": args.batch_clients,
                "batch_size": args.batch_size,
                "run_id": f"batch-{uuid.uuid4().hex[:10]}",
                "agents": agents[1:] + agents[:1],
            },
        )
        results["batch"]["events_per_s"] = round(
            results["batch"]["requests_per_s"] * args.batch_size
        )
    if "http" in args.only:
        # After the batch phase, so the event log holds a few hundred thousand events, as a
        # control plane that has run for a while does: id checks must not scan it.
        run_id = f"hb-{uuid.uuid4().hex[:10]}"
        measured("heartbeat_ids", pids, closed | {"port": mcos.port, "ids": True, "run_id": run_id})
    if "steps" in args.only:
        steps_phase(args, mcos, operator_token, agents, measured, results)
    if "sse" in args.only:
        for n in args.subscribers:
            for name, server, sub_path, pub_path, token in (
                (f"sse_bare_{n}", bare, "/stream", "/publish", None),
                (f"sse_mcos_{n}", mcos, "/api/v1/stream", "/api/v1/batch", agents[0][1]),
            ):
                print(f"  {name} ...", flush=True)
                with Meter({"server": server.pid}) as meter:
                    figures = sse_phase(server, sub_path, pub_path, token, n, args)
                results[name] = figures | meter.result


def step_agents(server: Server, operator_token: str, agents: list[list[str]]) -> list[list[Any]]:
    """[name, token, task id, model] of each agent, with a task of its own in progress."""
    operator = {"Authorization": f"Bearer {operator_token}"}
    out: list[list[Any]] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        listed = client.get("/api/v1/agents", headers=operator).json()["agents"]
        models = {a["name"]: a.get("model", "gpt-4o-mini") for a in listed}
        for name, token in agents:
            created = client.post(
                "/api/v1/tasks",
                headers=operator,
                json={"title": f"bench step task of {name}", "assignee": name},
            )
            created.raise_for_status()
            task_id = created.json()["id"]
            moved = client.post(
                f"/api/v1/tasks/{task_id}/move",
                headers={"Authorization": f"Bearer {token}"},
                json={"status": "in_progress"},
            )
            moved.raise_for_status()
            # Room for the usage the phases record: an agent over budget is refused (409).
            raised = client.patch(
                f"/api/v1/agents/{name}/budget",
                headers=operator,
                json={
                    "daily_tokens": 10**9,
                    "monthly_tokens": 10**9,
                    "daily_usd": 1e6,
                    "monthly_usd": 1e6,
                    "reason": "bench",
                },
            )
            raised.raise_for_status()
            out.append([name, token, task_id, models[name]])
    return out


def steps_phase(
    args: argparse.Namespace,
    server: Server,
    operator_token: str,
    agents: list[list[str]],
    measured: Any,
    results: dict[str, Any],
) -> None:
    """Each kind of request an agent's task makes, alone in a closed loop: server CPU per kind.

    Only agents the fleet lets do it (write_file asks for ``file.write``: agents without the
    write capability are refused), checked with one probe request each before the phase.
    """
    workers = step_agents(server, operator_token, agents)
    for kind in STEP_KINDS:
        config = {"mode": "closed", "kind": "step", "step": kind, "port": server.port}
        # A move probed would leave the task in another column; every agent may move its own.
        able = [w for w in workers if kind == "move" or probe(config | {"agents": [w]})]
        if not able:
            raise SystemExit(f"no agent of the fleet may send {kind}")
        measured(
            f"step_{kind}",
            {"server": server.pid},
            config
            | {
                "agents": able,
                "connections": min(args.step_connections, len(able)),
                "run_id": f"step-{uuid.uuid4().hex[:10]}",
            },
        )


def compare_steps(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """``--compare-src DIR``: the step kinds against two control planes side by side, one run from
    ``DIR`` (a ``src`` tree: ``git archive main src | tar -x -C DIR/..``) and one from this
    checkout, each with its own fleet and SQLite file. Kinds and sides alternate, the order
    flipping every round, so both see the same machine: the ratio is the figure to read."""
    sides: dict[str, dict[str, Any]] = {}
    servers: list[Server] = []
    try:
        for side, src in (("baseline", str(args.compare_src)), ("this tree", None)):
            sub = folder / ("base" if src else "this")
            sub.mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith("MCOS_")}
            env |= {
                "XDG_CONFIG_HOME": str(sub / "config"),
                "MCOS_DATABASE_URL": f"sqlite:///{sub}/mcos.db",
            }
            if src:
                env["PYTHONPATH"] = src
            subprocess.run(
                [PYTHON, "-m", "mcos", "init", str(sub / "fleet")],
                env=env,
                check=True,
                capture_output=True,
            )
            token = (sub / "fleet" / ".mcos" / "operator.token").read_text().strip()
            server = Server(
                f"mcos serve ({side})",
                [PYTHON, "-m", "mcos", "serve", "--fleet", str(sub / "fleet"), "--port", "{port}"],
                env,
                sub / "mcos.log",
            )
            server.start("/api/v1/health")
            servers.append(server)
            workers = step_agents(server, token, issue_agent_tokens(server, token))
            able = {}
            for kind in STEP_KINDS:
                config = {"mode": "closed", "kind": "step", "step": kind, "port": server.port}
                able[kind] = [
                    w for w in workers if kind == "move" or probe(config | {"agents": [w]})
                ]
            sides[side] = {"server": server, "able": able, "cpu_s": {}, "requests": {}}
        rounds = max(1, args.compare_rounds)
        for index in range(rounds):
            for kind in STEP_KINDS:
                order = list(sides) if index % 2 == 0 else list(reversed(sides))
                for side in order:
                    state = sides[side]
                    server = state["server"]
                    print(f"  round {index + 1}/{rounds}: {kind} on {side} ...", flush=True)
                    config = {
                        "mode": "closed",
                        "kind": "step",
                        "step": kind,
                        "port": server.port,
                        "agents": state["able"][kind],
                        "connections": min(args.step_connections, len(state["able"][kind])),
                        "duration": args.duration,
                        "warmup": args.warmup,
                        "run_id": f"step-{uuid.uuid4().hex[:10]}",
                    }
                    with Meter({"server": server.pid}) as meter:
                        figures = load(config)
                    if figures["errors"]:
                        raise SystemExit(f"{kind} on {side}: {figures['error_samples']}")
                    state["cpu_s"][kind] = (
                        state["cpu_s"].get(kind, 0.0) + meter.result["server_cpu_s"]
                    )
                    state["requests"][kind] = (
                        state["requests"].get(kind, 0) + figures["completed_total"]
                    )
    finally:
        for server in servers:
            server.stop()
    compared: dict[str, Any] = {"compare_src": str(args.compare_src), "rounds": rounds}
    for kind in STEP_KINDS:
        compared[kind] = {
            side: round(1e6 * state["cpu_s"][kind] / max(1, state["requests"][kind]), 1)
            for side, state in sides.items()
        }
    return {"compare": compared}


def probe(config: dict[str, Any]) -> bool:
    """Whether one agent's requests of a kind are answered 2xx (a short closed loop)."""
    figures = load(
        config | {"connections": 1, "duration": 0.05, "warmup": 0, "run_id": uuid.uuid4().hex[:10]}
    )
    return bool(figures["completed_total"]) and figures["errors"] == 0


def profile(
    args: argparse.Namespace,
    folder: Path,
    env: dict[str, str],
    agents: list[list[str]],
    operator_token: str,
) -> dict[str, Any]:
    """Heartbeat load on a server under cProfile; the top costs of the loop and writer threads.

    With ``--only steps``, each request kind of an agent's task instead, one profiled server
    each, its pstats in a folder of its own (``DIR/step_KIND``)."""
    if "steps" not in args.only:
        config = {"mode": "closed", "kind": "heartbeat", "connections": args.connections}
        return profiled(args, folder, env, args.profile, config | {"agents": agents})
    summaries = {}
    for kind in STEP_KINDS:
        config = {"mode": "closed", "kind": "step", "step": kind, "run_id": uuid.uuid4().hex[:8]}
        out = args.profile / f"step_{kind}"
        summaries[kind] = profiled(
            args,
            folder,
            env,
            out,
            config,
            lambda server: step_agents(server, operator_token, agents),
        )
    return {"steps": summaries, "folder": str(args.profile)}


def profiled(
    args: argparse.Namespace,
    folder: Path,
    env: dict[str, str],
    out: Path,
    config: dict[str, Any],
    prepare: Any = None,
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    server = Server(
        "profiled mcos serve",
        [PYTHON, str(HERE / "_profile_server.py"), str(folder / "fleet"), "{port}", str(out)],
        env,
        folder / "profile.log",
    )
    print(f"  profiling the server under {config.get('step', config['kind'])} ...", flush=True)
    server.start("/api/v1/health")
    try:
        if prepare is not None:
            able = prepare(server)
            config |= {"agents": able, "connections": min(args.step_connections, len(able))}
            if config.get("step") == "action":  # agents without the write capability are refused
                config["agents"] = [
                    a for a in able if probe(config | {"agents": [a], "port": server.port})
                ]
                config["connections"] = min(args.step_connections, len(config["agents"]))
        figures = load(
            config | {"port": server.port, "duration": args.duration, "warmup": args.warmup}
        )
    finally:
        # uvicorn re-raises the signal after its shutdown; SIGINT becomes KeyboardInterrupt, so
        # the profiler's `finally` still writes the profiles.
        server.stop(signal.SIGINT)
    summary: dict[str, Any] = {
        "requests_per_s_under_profiler": figures["requests_per_s"],
        "requests": figures["completed_total"],
        "folder": str(out),
    }
    for thread, components in PROFILE_COMPONENTS.items():
        path = out / f"{thread}.pstats"
        if path.exists():
            summary[thread] = profile_components(path, components, figures["completed_total"])
    return summary


# Where the time goes, as cumulative time of a few functions (file suffix, name or "<method ...>"
# fragment). Rows nest (solve_dependencies includes the thread-pool hops), so they do not add up.
def main() -> None:
    args = parse_args()
    info = machine()
    print(
        f"{info['nproc']} x {info['cpu']}, Python {info['python']}, SQLite {info['sqlite']}, "
        f"uvicorn {info.get('uvicorn')}, load average {info['load_average_at_start']}"
    )
    folder = Path(tempfile.mkdtemp(prefix="mcos-bench-"))
    started = time.monotonic()
    try:
        results = run(args, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    rows = report(results, args)
    print_table(rows, results)
    print(f"\n{time.monotonic() - started:.0f} s in all")
    if args.json_out:
        document = {
            "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": info,
            "options": {
                k: (str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, set) else v)
                for k, v in vars(args).items()
            },
            "table": rows,
            "results": results,
        }
        args.json_out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"figures written to {args.json_out}")


if __name__ == "__main__":
    main()
