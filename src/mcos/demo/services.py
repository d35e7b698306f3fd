"""The demo's watched service: FibreFlow's API on velo, a real local HTTP service.

``mcos demo`` starts :mod:`mcos.demo.fibreflow` on a free loopback port with the same command
its runbook restarts it with, and writes it into the demo's fleet file as a ``[[services]]``
entry on the machine velo, owned by Elon, between two marker lines rewritten at every start
(the port changes), as the demo's mailboxes are. The runner of velo's agents probes it; at 03:00
the director kills it, and what follows is the service watch's doing. On exit the demo stops
whatever instance runs (the one it started, or the one a restart started).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mcos.demo import fibreflow
from mcos.demo.mail import _free_port

BEGIN = "# ---- demo services: written by `mcos demo` at every start (the port changes) ----"
END = "# ---- end of the demo services ----"
NAME = fibreflow.NAME
MACHINE = "velo"
OWNER = "elon"


def _command(*args: str) -> str:
    return shlex.join([sys.executable, "-m", "mcos.demo.fibreflow", *args])


@dataclass
class DemoService:
    """The running service, or why there is none."""

    port: int = 0
    state: Path | None = None
    why_not: str | None = None

    @property
    def running(self) -> bool:
        return self.state is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def start_command(self) -> str:
        assert self.state is not None
        return _command("start", "--port", str(self.port), "--state", str(self.state))

    def block(self) -> str | None:
        """The ``[[services]]`` entry for the fleet file."""
        if self.state is None:
            return None
        log = shlex.join(["tail", "-n", "12", str(fibreflow.log_file(self.state))])
        status = _command("status", "--port", str(self.port), "--state", str(self.state))
        lines = [
            BEGIN,
            "[[services]]",
            f'name = "{NAME}"',
            f'machine = "{MACHINE}"',
            f'owner = "{OWNER}"',
            'kind = "http"',
            f'url = "{self.url}"',
            'expect_body = "re:\\"status\\":\\\\s*\\"ok\\""',
            "description = \"(simulated demo) FibreFlow's API: a tiny local HTTP service the "
            'demo starts, and kills at 03:00"',
            "every_seconds = 1               # the demo only: a real fleet probes every 30 s",
            "failures_before_down = 2",
            'severity = "P1"',
            "production = true",
            "[services.runbook]",
            f"diagnose = [{_toml(status)}, {_toml(log)}]",
            f'restart = {{ command = {_toml(self.start_command())}, policy = "allow" }}',
            END,
        ]
        return "\n".join(lines) + "\n"

    def crash(self) -> int | None:
        """Kill it as the kernel's OOM killer would (SIGKILL); the pid killed, if any ran."""
        if self.state is None:
            return None
        pid = fibreflow.running_pid(self.state)
        if pid is None:
            return None
        fibreflow.log(self.state, f"(simulated demo) kills pid {pid} (SIGKILL)", who="mcos demo")
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.state is None:
            return
        pid = fibreflow.running_pid(self.state)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while fibreflow.running_pid(self.state) == pid and time.monotonic() < deadline:
                time.sleep(0.05)
            if fibreflow.running_pid(self.state) == pid:
                os.kill(pid, signal.SIGKILL)


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text)


def with_services(text: str, block: str | None) -> str:
    """The fleet file's text with its demo services replaced by ``block`` (or removed)."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.DOTALL)
    text = pattern.sub("", text).rstrip("\n") + "\n"
    return text if block is None else text + "\n" + block


@contextlib.contextmanager
def demo_service(directory: Path) -> Iterator[DemoService]:
    """FibreFlow's API started for the demo (stopped after), or why it could not start."""
    service = DemoService(port=_free_port(), state=(directory / "services" / NAME).resolve())
    assert service.state is not None
    # A leftover instance from a demo stopped hard: its port is not this run's.
    service.stop()
    started = subprocess.run(
        shlex.split(service.start_command()), capture_output=True, text=True, timeout=30
    )
    if started.returncode != 0:
        service.stop()
        why = (started.stdout + started.stderr).strip().splitlines()
        yield DemoService(why_not=why[-1] if why else f"exit status {started.returncode}")
        return
    try:
        yield service
    finally:
        service.stop()
