"""``mcos events tail``, run as a user runs it, against a real server that is killed mid-tail."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from typing import IO

import httpx

from tests.fixtures.server import Server

TYPES = "agent.heartbeat,runtime.*"


class Lines:
    """The lines a running process writes to one pipe, read with a deadline."""

    def __init__(self, pipe: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._pipe = pipe
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        for line in self._pipe:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, seconds: float = 30) -> str:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}; saw {self.seen}")

    def rest(self) -> list[str]:
        """Every line until the pipe closes (call after the process has exited)."""
        while (line := self._queue.get(timeout=10)) is not None:
            self.seen.append(line)
        self._pump.join()
        self._pipe.close()
        return self.seen


def post_event(client: httpx.Client, type: str, n: int) -> int:
    response = client.post("/api/v1/events", json={"type": type, "data": {"n": n}})
    assert response.status_code == 201, response.text
    seq: int = response.json()["seq"]
    return seq


def test_events_tail_follows_resumes_after_a_restart_and_prints_json(
    server: Server,
) -> None:
    tail = subprocess.Popen(
        [sys.executable, "-m", "mcos", "events", "tail", "--types", TYPES, "--count", "4"],
        env=server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tail.stdout is not None and tail.stderr is not None
    out, err = Lines(tail.stdout), Lines(tail.stderr)
    try:
        connected = err.wait_for("-- following the event log after seq ")
        start = int(connected.rsplit(" ", 1)[1])
        with server.agent("donna") as donna:
            beat = donna.post(
                "/api/v1/agents/donna/heartbeat",
                json={"status": "working", "context_tokens": 84_000},
            )
            assert beat.status_code == 200, beat.text
            heartbeat_line = out.wait_for("agent.heartbeat")
            before_kill = post_event(donna, "runtime.step", 1)  # printed before or after: once
            server.kill()
            err.wait_for("-- lost the stream; reconnecting to resume after seq ")
            server.start()
            post_event(donna, "billing.invoice", 2)  # filtered out
            after_restart = [post_event(donna, "runtime.step", n) for n in (3, 4)]
        assert tail.wait(30) == 0
    finally:
        tail.kill()
        tail.wait(10)
        printed, notes = out.rest(), err.rest()
    assert len(printed) == 4, printed
    assert "donna working gauge 84000/200000" in heartbeat_line
    assert "agent:donna" in heartbeat_line
    seqs = [int(line.split()[0]) for line in printed]
    assert seqs[1:] == [before_kill, *after_restart]
    assert seqs[0] > start
    assert [line.split()[2] for line in printed] == ["agent.heartbeat"] + ["runtime.step"] * 3
    assert any(line.startswith("-- resumed the event log after seq ") for line in notes)

    # --json: one parseable object per line, the same events, as the log records them.
    shown = server.mcos(
        "events", "tail", "--after", str(start), "--types", TYPES, "--count", "4", "--json"
    )
    events = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [e["seq"] for e in events] == seqs
    assert events[0]["data"]["gauge"]["tokens"] == 84_000
    with server.client() as operator:
        log = operator.get("/api/v1/events", params={"after": start, "types": TYPES}).json()
    assert events == log["events"][:4]

    refused = subprocess.run(
        [sys.executable, "-m", "mcos", "events", "tail", "--count", "1"],
        env=server.env | {"MCOS_TOKEN": "mcos_o_not-a-token"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr == "error: unknown, expired or revoked token (field: Authorization)\n"
