"""Probes against real things on this machine: an HTTP server, a TCP port, a process, systemd;
and the runbook's commands, bounded in time and output."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from mcos.domain.service_state import Probe, Watched
from mcos.fleet.services import HttpService, ProcessService, SystemdService, TcpService
from mcos.runtime import probes, runbook
from tests.fixtures.server import free_port

SERVE = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"FibreFlow ok" if self.path == "/" else b"missing"
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


SLEEP = "import time; time.sleep(60)"


async def probed(service: ProcessService, ok: bool) -> Probe:
    """The first probe that says ``ok`` (a process just started may not have its command
    line yet), within a deadline."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        seen = await probes.probe_process(service)
        if seen.ok is ok:
            return seen
        assert asyncio.get_running_loop().time() < deadline, seen
        await asyncio.sleep(0.05)


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture
def web() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(port)])
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                raise AssertionError("the test server did not start")
            time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.wait()


def http(port: int, path: str = "/", **extra: object) -> HttpService:
    return HttpService.model_validate(
        {"name": "web", "machine": "velo", "kind": "http", "url": f"http://127.0.0.1:{port}{path}"}
        | extra
    )


@sync
async def test_http_checks_the_status_and_the_body(web: int) -> None:
    async with httpx2.AsyncClient() as client:
        assert (await probes.probe(http(web), client)).ok is True
        assert (await probes.probe(http(web, expect_body="FibreFlow"), client)).ok is True
        assert (await probes.probe(http(web, expect_body="re:Fibre\\w+ ok"), client)).ok is True
        wrong_body = await probes.probe(http(web, expect_body="Velocity"), client)
        assert wrong_body.ok is False and "without 'Velocity'" in wrong_body.detail
        wrong_status = await probes.probe(http(web, "/x"), client)
        assert wrong_status.ok is False and "HTTP 404" in wrong_status.detail
        assert (await probes.probe(http(web, "/x", expect_status=[404]), client)).ok is True
        closed = await probes.probe(http(free_port()), client)
        assert closed.ok is False


@sync
async def test_tcp_checks_that_the_port_accepts(web: int) -> None:
    def tcp(port: int) -> TcpService:
        return TcpService(name="db", machine="velo", kind="tcp", port=port)

    assert (await probes.probe_tcp(tcp(web))).ok is True
    refused = await probes.probe_tcp(tcp(free_port()))
    assert refused.ok is False and "127.0.0.1:" in refused.detail


@sync
async def test_a_process_is_found_by_its_command_line() -> None:
    marker = f"mcos-probe-{uuid.uuid4().hex[:8]}"
    service = ProcessService(name="worker", machine="velo", kind="process", pattern=marker)
    assert (await probes.probe_process(service)).ok is False
    sleeper = await asyncio.create_subprocess_exec(sys.executable, "-c", SLEEP, marker)
    try:
        found = await probed(service, True)
        assert str(sleeper.pid) in found.detail
    finally:
        sleeper.kill()
        await sleeper.wait()
    await probed(service, False)


@sync
async def test_systemd_is_unknown_where_there_is_none() -> None:
    unit = SystemdService(name="nginx", machine="velo", kind="systemd", unit="nginx.service")
    seen = await probes.probe_systemd(unit)
    if probes.systemd_here():
        assert seen.ok is not None
    else:
        assert seen.ok is None and "not available" in seen.detail


def test_down_after_failures_in_a_row_and_up_at_the_first_good_probe() -> None:
    at = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    watched = Watched(failures_before_down=2)
    first = watched.observe(Probe(True, "ok"), at)
    assert first is not None and (first.before, first.after) == ("unknown", "up")
    assert watched.observe(Probe(False, "refused"), at + timedelta(seconds=1)) is None
    down = watched.observe(Probe(False, "refused"), at + timedelta(seconds=2))
    assert down is not None and (down.after, down.failures) == ("down", 2)
    assert watched.observe(Probe(False, "refused"), at + timedelta(seconds=3)) is None
    up = watched.observe(Probe(True, "ok"), at + timedelta(seconds=4))
    assert up is not None and (up.before, up.after) == ("down", "up")
    assert watched.observe(Probe(None, "no systemd"), at) is not None
    assert watched.state == "unknown"


@sync
async def test_runbook_commands_are_bounded_and_get_no_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MCOS_ELON_ANTHROPIC_KEY", "sk-secret")
    ran = await runbook.run_on_host("echo hello; env", 10)
    assert ran.ok and "hello" in ran.output and "sk-secret" not in ran.output
    slow = await runbook.run_on_host("echo started; sleep 30", 0.5)
    assert slow.exit_status is None and "started" in slow.output
    assert "over its time limit" in slow.report()
    loud = await runbook.run_on_host("yes | head -c 100000", 10)
    assert len(loud.output) < 33_000 and loud.output.endswith("[... output cut ...]")
    # A daemon started in the background keeps running; the command's report does not wait.
    marker = f"mcos-daemon-{uuid.uuid4().hex[:8]}"
    started = await runbook.run_on_host(
        f"{sys.executable} -c '{SLEEP}' {marker} & echo launched", 10
    )
    assert started.ok and "launched" in started.output
    alive = ProcessService(name="d", machine="velo", kind="process", pattern=marker)
    daemon = await probed(alive, True)
    for pid in daemon.detail.split("pid ", 1)[1].rstrip(")").split(", "):
        os.kill(int(pid), signal.SIGKILL)
    diagnosis = await runbook.diagnose(("echo one", "exit 3"), 5)
    assert "$ echo one\none" in diagnosis and "exit status 3" in diagnosis
