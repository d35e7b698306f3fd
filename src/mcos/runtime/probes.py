"""Probing a service where it runs: an HTTP answer, a TCP connection, a process, a unit.

Each probe returns a :class:`~mcos.domain.service_state.Probe` and never raises for the
service's sake: a refused connection, a timeout, a wrong status is a failed probe with what was
seen. Only ``systemd`` can answer "cannot tell" (no systemd on this machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from pathlib import Path

import httpx2

from mcos.domain.service_state import Probe
from mcos.fleet.services import (
    AnyService,
    HttpService,
    ProcessService,
    SystemdService,
    TcpService,
)

MAX_BODY = 1_000_000
"""Bytes of an HTTP answer read to match ``expect_body``."""


async def probe(service: AnyService, http: httpx2.AsyncClient) -> Probe:
    """Probe ``service`` once, on this machine."""
    if isinstance(service, HttpService):
        return await probe_http(service, http)
    if isinstance(service, TcpService):
        return await probe_tcp(service)
    if isinstance(service, ProcessService):
        return await probe_process(service)
    return await probe_systemd(service)


async def probe_http(service: HttpService, http: httpx2.AsyncClient) -> Probe:
    try:
        async with asyncio.timeout(service.timeout_seconds):
            async with http.stream("GET", service.url, follow_redirects=False) as response:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY:
                        break
    except TimeoutError:
        return Probe(False, f"no answer from {service.url} in {service.timeout_seconds:g}s")
    except httpx2.HTTPError as exc:
        return Probe(False, f"{service.url}: {type(exc).__name__}: {exc}"[:500])
    status = response.status_code
    if status not in service.expect_status:
        expected = ", ".join(str(s) for s in service.expect_status)
        return Probe(False, f"HTTP {status} from {service.url} (expected {expected})")
    wanted = service.expect_body
    if wanted is not None:
        text = body.decode("utf-8", "replace")
        found = re.search(wanted[3:], text) if wanted.startswith("re:") else wanted in text
        if not found:
            return Probe(False, f"HTTP {status} from {service.url}, without {wanted!r} in the body")
    return Probe(True, f"HTTP {status} from {service.url}")


async def probe_tcp(service: TcpService) -> Probe:
    where = f"{service.host}:{service.port}"
    try:
        async with asyncio.timeout(service.timeout_seconds):
            _, writer = await asyncio.open_connection(service.host, service.port)
    except TimeoutError:
        return Probe(False, f"no connection to {where} in {service.timeout_seconds:g}s")
    except OSError as exc:
        return Probe(False, f"{where}: {exc.strerror or exc}")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Probe(True, f"{where} accepts connections")


def command_lines() -> list[tuple[int, str]]:
    """Every process's pid and command line (``/proc`` on Linux, else ``ps``)."""
    proc = Path("/proc")
    found = []
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue  # ended meanwhile, or not ours to read
            if raw:
                found.append((int(entry.name), raw.rstrip(b"\0").replace(b"\0", b" ").decode()))
        return found
    import subprocess

    listed = subprocess.run(
        ["ps", "-axo", "pid=,command="], capture_output=True, text=True, timeout=10, check=False
    )
    for line in listed.stdout.splitlines():
        pid, _, command = line.strip().partition(" ")
        if pid.isdigit():
            found.append((int(pid), command.strip()))
    return found


async def probe_process(service: ProcessService) -> Probe:
    pattern = re.compile(service.pattern)
    lines = await asyncio.to_thread(command_lines)
    mine = os.getpid()
    matched = [pid for pid, line in lines if pid != mine and pattern.search(line)]
    if not matched:
        return Probe(False, f"no process matches /{service.pattern}/")
    shown = ", ".join(str(p) for p in matched[:5])
    return Probe(True, f"{len(matched)} process(es) match /{service.pattern}/ (pid {shown})")


def systemd_here() -> bool:
    return shutil.which("systemctl") is not None and Path("/run/systemd/system").is_dir()


async def probe_systemd(service: SystemdService) -> Probe:
    if not systemd_here():
        return Probe(
            None, f"systemd is not available on this machine, so {service.unit} is unknown"
        )
    process = await asyncio.create_subprocess_exec(
        "systemctl",
        "is-active",
        service.unit,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(10):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        return Probe(False, f"systemctl is-active {service.unit} did not answer in 10s")
    state = out.decode(errors="replace").strip() or "no answer"
    return Probe(state == "active", f"{service.unit} is {state}")
