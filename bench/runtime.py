"""Agent-runtime benchmark: one single-tool task through our loop, a bare OpenAI SDK loop,
LangGraph and the OpenAI Agents SDK, side by side in one run against the same fake model.

The task is two model calls and one tool call. The fake OpenAI server
(``python -m mcos.testing.fake_providers``) and ``mcos serve`` (SQLite, guardrails on) run as
their own processes, and each contender runs in a process of its own (``_runtime_worker.py``),
so none shares a GIL or a heap with another. Rounds alternate the contenders; each phase is run
once as a warm-up first. A last phase starts a runner with 1,000 idle agents and reads its RSS.

    python bench/runtime.py [--quick | --tiny] [--rounds N] [--json-out PATH] [--only seq,idle]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _machine import machine
from _runtime_common import FRAMEWORK_KEYS, agent_name, fleet_toml, write_script
from _runtime_report import library_versions, print_summary, summarise
from _servers import Server

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
CONTENDERS = ("bare", "bare_same", "agents", "langgraph", "mcos")


class Worker:
    """A contender's process: one JSON command in, one JSON line out."""

    def __init__(self, name: str, config: dict[str, Any], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as errors:
            self.process = subprocess.Popen(
                [PYTHON, str(HERE / "_runtime_worker.py"), json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                bufsize=0,
            )
        self._buffer = b""
        self.quitting = False

    def _line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise self.failure(f"gave no answer within {timeout:.0f} s")
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise self.failure("exited")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def failure(self, what: str) -> SystemExit:
        self.process.kill()
        return SystemExit(f"{self.name} worker {what}:\n{self.log.read_text()[-4000:]}")

    def ready(self) -> None:
        if self._line(120) != "ready":
            raise self.failure("did not start")

    def run(self, concurrency: int, tasks_each: int) -> dict[str, Any]:
        assert self.process.stdin is not None
        command = {"cmd": "run", "concurrency": concurrency, "tasks_each": tasks_each}
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        answer: dict[str, Any] = json.loads(self._line(600))
        return answer

    def result(self, timeout: float) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self._line(timeout))
        return answer

    def quit(self) -> None:
        """Ask the worker to exit, without waiting: several can then exit at once."""
        if self.process.poll() is None and not self.quitting:
            self.quitting = True
            assert self.process.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.write(b'{"cmd": "quit"}\n')

    def close(self) -> None:
        self.quit()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="One short round: a smoke run.")
    parser.add_argument("--tiny", action="store_true", help="A few tasks each: the tests' run.")
    parser.add_argument("--rounds", type=int, help="Measured rounds after the warm-up (5).")
    parser.add_argument("--seq-tasks", type=int, help="Tasks one after another per round (40).")
    parser.add_argument("--concurrency", type=int, help="Loops run at once (20).")
    parser.add_argument("--conc-tasks", type=int, help="Tasks per concurrent loop a round (15).")
    parser.add_argument("--idle-agents", type=int, help="Agents of the idle runner (1,000).")
    parser.add_argument("--only", help="Comma-separated: seq,concurrent,idle (default all).")
    parser.add_argument("--json-out", type=Path, help="Also write the figures here as JSON.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    args = parser.parse_args()

    def size(full: Any, quick: Any, tiny: Any) -> Any:
        return tiny if args.tiny else quick if args.quick else full

    args.rounds = args.rounds or size(5, 1, 1)
    args.seq_tasks = args.seq_tasks or size(40, 10, 3)
    args.concurrency = args.concurrency or size(20, 20, 2)
    args.conc_tasks = args.conc_tasks or size(15, 3, 2)
    args.idle_agents = args.idle_agents or size(1000, 100, 5)
    args.settle = size(3.0, 3.0, 0.5)
    args.warm_up = not args.tiny
    args.only = set((args.only or "seq,concurrent,idle").split(","))
    # A heartbeat answer lists at most 50 tasks, and an agent asks again only when woken.
    if max(args.seq_tasks, args.conc_tasks) > 50:
        parser.error("--seq-tasks and --conc-tasks must be at most 50 (tasks per heartbeat)")
    return args


def clean_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCOS_", "OPENAI_"))}
    return env | {"XDG_CONFIG_HOME": str(folder / "config")}


def control_plane(folder: Path, env: dict[str, str], names: list[str], base_url: str) -> Server:
    """``mcos init``, then our fleet file in place of the template, then ``mcos serve``."""
    fleet = folder / "fleet"
    env = env | {"MCOS_DATABASE_URL": f"sqlite+pysqlite:///{fleet / 'mcos.db'}"}
    subprocess.run(
        [PYTHON, "-m", "mcos", "init", str(fleet)], env=env, check=True, capture_output=True
    )
    (fleet / "fleet.toml").write_text(fleet_toml(names, base_url))
    command = [PYTHON, "-m", "mcos", "serve", "--fleet", str(fleet), "--port", "{port}"]
    if profile := os.environ.get("MCOS_BENCH_PROFILE"):  # see _runtime_worker.py
        out = str(Path(profile) / "server")
        command = [PYTHON, str(HERE / "_profile_server.py"), str(fleet), "{port}", out]
    server = Server("mcos serve", command, env, folder / "mcos.log")
    try:
        server.start("/api/v1/health")
    except BaseException:
        server.stop()  # it may still run when it did not answer in time
        raise
    return server


def main_phases(args: argparse.Namespace, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    names = [agent_name(i + 1) for i in range(args.concurrency)]
    script = write_script(folder / "script.json", names)
    fake = Server(
        "fake provider",
        # Connections kept between phases: at uvicorn's 5 s, a contender's idle pool could
        # reuse one the fake was closing that instant, and a framework without retries failed.
        [
            PYTHON,
            "-m",
            "mcos.testing.fake_providers",
            "--port",
            "{port}",
            "--script",
            str(script),
            "--keep-alive",
            "600",
        ],
        env,
        folder / "fake.log",
    )
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(fake.stop)
        fake.start("/_fake/requests")
        base_url = fake.url + "/v1"
        (folder / "main").mkdir()
        server = control_plane(folder / "main", env, names, base_url)
        # Profiled, it writes its profiles on SIGINT (uvicorn re-raises a SIGTERM at the end).
        cleanup.callback(server.stop, signal.SIGINT)
        return rounds(args, folder, fake, server)


def rounds(args: argparse.Namespace, folder: Path, fake: Server, server: Server) -> dict[str, Any]:
    """A warm-up round (none when tiny), then the measured rounds, each contender in its worker
    process."""
    base_url = fake.url + "/v1"
    pids = {"fake": fake.pid, "control_plane": server.pid}
    workers: dict[str, Worker] = {}
    phases = [
        (name, concurrency, each)
        for name, concurrency, each in (
            ("seq", 1, args.seq_tasks),
            ("concurrent", args.concurrency, args.conc_tasks),
        )
        if name in args.only
    ]
    results: dict[str, Any] = {name: {c: [] for c in CONTENDERS} for name, _, _ in phases}
    try:
        for name in CONTENDERS:
            config: dict[str, Any] = {"contender": name, "base_url": base_url, "pids": pids}
            config |= {"key": FRAMEWORK_KEYS.get(name), "tool_dir": str(folder / "tool" / name)}
            config |= {"fleet_dir": str(folder / "main" / "fleet"), "url": server.url}
            workers[name] = Worker(name, config, folder / f"worker-{name}.log")
        for worker in workers.values():
            worker.ready()
        for round_number in range(0 if args.warm_up else 1, args.rounds + 1):
            label = "warm-up" if round_number == 0 else f"round {round_number}/{args.rounds}"
            for phase, concurrency, each in phases:
                shift = round_number % len(CONTENDERS)
                order = CONTENDERS[shift:] + CONTENDERS[:shift]
                print(f"  {label} {phase}: {', '.join(order)}", flush=True)
                for name in order:
                    figures = workers[name].run(concurrency, each)
                    httpx.delete(fake.url + "/_fake/requests", timeout=30)
                    if round_number:
                        results[phase][name].append(figures)
    finally:
        for worker in workers.values():
            worker.quit()
        for worker in workers.values():
            worker.close()
    return results


def idle_phase(args: argparse.Namespace, folder: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """A control plane with N agents; a runner with 1 of them, then one with all N."""
    (folder / "idle").mkdir()
    names = [agent_name(i + 1, "idle") for i in range(args.idle_agents)]
    # The agents never call the model: nothing listens at this URL.
    server = control_plane(folder / "idle", env, names, "http://127.0.0.1:9/v1")
    found = []
    try:
        for count in (1, args.idle_agents):
            print(f"  idle runner with {count} agent(s) ...", flush=True)
            config = {
                "contender": "idle",
                "agents": count,
                "fleet_dir": str(folder / "idle" / "fleet"),
                "url": server.url,
                "settle_seconds": args.settle,
            }
            worker = Worker("idle", config, folder / f"worker-idle-{count}.log")
            try:
                worker.ready()
                found.append(worker.result(900))
            finally:
                worker.close()
    finally:
        server.stop()
    return found


def main() -> None:
    args = parse_args()
    info = machine() | {"libraries": library_versions()}
    print(
        f"{info['nproc']} x {info['cpu']}, Python {info['python']}, SQLite {info['sqlite']}, "
        f"load average {info['load_average_at_start']}"
    )
    print("libraries: " + ", ".join(f"{k} {v}" for k, v in info["libraries"].items()))
    folder = Path(tempfile.mkdtemp(prefix="mcos-bench-runtime-"))
    env = clean_env(folder)
    started = time.monotonic()
    results: dict[str, Any] = {}
    try:
        if args.only & {"seq", "concurrent"}:
            results |= main_phases(args, folder, env)
        if "idle" in args.only:
            results["idle"] = idle_phase(args, folder, env)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    summary = summarise(results, args)
    print_summary(summary)
    print(f"\n{time.monotonic() - started:.0f} s in all")
    if args.json_out:
        document = {
            "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": info,
            "options": {
                k: sorted(v) if isinstance(v, set) else str(v) for k, v in vars(args).items()
            },
            "summary": summary,
            "results": results,
        }
        args.json_out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"figures written to {args.json_out}")


if __name__ == "__main__":
    main()
