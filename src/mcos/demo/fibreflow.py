"""The demo's stand-in for FibreFlow's API on velo: a tiny real HTTP service on loopback.

``python -m mcos.demo.fibreflow start --port P --state DIR`` starts it in the background (its
own session, so it outlives the command that started it, as a service manager's would) and
returns once ``/health`` answers; this is the runbook's ``restart`` command in the demo's fleet
file, run on the host by the runner. ``status`` says whether it runs, for the runbook's
``diagnose``. ``serve`` is the service itself: ``GET /health`` answers
``{"status": "ok", ...}``, anything else 404; its start, stop and errors are logged
to ``DIR/fibreflow-api.log``. Its pid is in ``DIR/fibreflow-api.pid``, where ``mcos demo`` finds
it to crash it at 03:00 (SIGKILL, as the seed's OOM killer did) and to stop it on exit.

Simulated: it serves nothing of FibreFlow's, says so in every answer, and listens on
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NAME = "fibreflow-api"
START_SECONDS = 10.0


def pid_file(state: Path) -> Path:
    return state / f"{NAME}.pid"


def log_file(state: Path) -> Path:
    return state / f"{NAME}.log"


def log(state: Path, line: str, who: str = "") -> None:
    who = who or f"{NAME}[{os.getpid()}]"
    with log_file(state).open("a", encoding="utf-8") as out:
        out.write(f"{datetime.now().astimezone():%H:%M:%S} {who}: {line}\n")


def running_pid(state: Path) -> int | None:
    """The pid in the pid file if that process is alive (a killed one nobody has reaped yet,
    a zombie, is not)."""
    try:
        pid = int(pid_file(state).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    with contextlib.suppress(OSError, IndexError):  # Linux: the state after the name
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX":
            return None
    return pid


def healthy(port: int) -> bool:
    with contextlib.suppress(OSError, ValueError):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
            return bool(json.load(answer).get("status") == "ok")
    return False


def serve(port: int, state: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/health":
                self.send_error(404)
                return
            body = json.dumps(
                {"status": "ok", "service": NAME, "simulated": True, "pid": os.getpid()}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # the watcher's probes every second: not worth a line each

        def log_message(self, format: str, *args: object) -> None:
            log(state, "(simulated demo) " + format % args)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    pid_file(state).write_text(f"{os.getpid()}\n")
    log(state, f"(simulated demo) listening on 127.0.0.1:{port}")

    def stop(signum: int, frame: object) -> None:
        log(state, f"(simulated demo) stopping on signal {signum}")
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def start(port: int, state: Path) -> int:
    """Start it in the background unless it runs; 0 once it answers, 1 if it does not."""
    state.mkdir(parents=True, exist_ok=True)
    if running_pid(state) is not None and healthy(port):
        print(f"{NAME} is already running (pid {running_pid(state)})")
        return 0
    with log_file(state).open("ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "mcos.demo.fibreflow", "serve", "--port", str(port),
             "--state", str(state)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if healthy(port):
            print(f"{NAME} started (pid {running_pid(state)}); /health answers ok")
            return 0
        time.sleep(0.1)
    print(f"{NAME} did not answer on 127.0.0.1:{port} within {START_SECONDS:g} s")
    return 1


def status(port: int, state: Path) -> int:
    pid = running_pid(state)
    answers = healthy(port)
    print(
        f"{NAME}: process {'running, pid ' + str(pid) if pid else 'not running'}; "
        f"/health on 127.0.0.1:{port} {'answers ok' if answers else 'does not answer'}"
    )
    return 0 if answers else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcos.demo.fibreflow")
    parser.add_argument("command", choices=("start", "serve", "status"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port, args.state)
        return 0
    return (
        start(args.port, args.state) if args.command == "start" else status(args.port, args.state)
    )


if __name__ == "__main__":
    sys.exit(main())
