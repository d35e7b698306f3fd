"""The Docker image's steps, run outside a container (no Docker engine runs here): the wheel
built as the Dockerfile builds it, installed into a fresh virtual environment by
deploy/install-wheel.sh, then deploy/docker-entrypoint.sh — first fleet, migrations,
``mcos serve`` — on a fresh PostgreSQL database, with the environment compose.yaml gives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.database import own_postgres_database
from tests.fixtures.processes import stop
from tests.fixtures.server import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "compose.yaml").read_text()
STOPPED = (0, -signal.SIGTERM)
"""A clean stop: uvicorn finishes its shutdown, then ends by the signal it was stopped with."""
PYTHON = getattr(sys, "_base_executable", sys.executable)
"""A plain Python, as python:3.11-slim has, not this test's own virtual environment."""
UV = ROOT / ".tools" / "bin" / "uv"

IMAGE_ENV = {"MCOS_HOST": "0.0.0.0", "PYTHONUNBUFFERED": "1"}
"""The Dockerfile's ENV, but the paths and the port, which are this test's own."""
COMPOSE_ENV = {"MCOS_BEHIND_PROXY": "true", "MCOS_PUBLIC_URL": "https://mc.example.com"}
"""compose.yaml's environment of the mcos service, but the database, which is this test's."""


def test_the_files_name_the_steps_this_test_runs() -> None:
    assert "RUN uv build --wheel --out-dir /dist" in DOCKERFILE
    assert "/usr/local/lib/mcos/install-wheel.sh /opt/mcos /tmp/dist/mcos-*.whl" in DOCKERFILE
    assert 'ENTRYPOINT ["/usr/local/lib/mcos/docker-entrypoint.sh"]' in DOCKERFILE
    assert "FROM python:3.11-slim" in DOCKERFILE
    for key, value in IMAGE_ENV.items():
        assert f"{key}={value}" in DOCKERFILE, key
    for key in ("MCOS_DATABASE_URL", *COMPOSE_ENV):
        assert f"      {key}: " in COMPOSE, key
    assert 'MCOS_BEHIND_PROXY: "true"' in COMPOSE


@pytest.mark.timeout(600)
def test_the_images_steps_serve_a_fresh_postgresql_database(tmp_path: Path) -> None:
    # As the image's build stage, with the uv the Makefile installs; offline: what the image
    # downloads comes from uv's cache here.
    offline = os.environ | {"UV": str(UV), "UV_OFFLINE": "1", "PYTHON": PYTHON}
    dist = tmp_path / "dist"
    built = subprocess.run(
        [str(UV), "build", "--wheel", "--out-dir", str(dist)],
        cwd=ROOT, env=offline, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    [wheel] = dist.glob("mcos-*.whl")
    prefix = tmp_path / "opt-mcos"
    installed = subprocess.run(
        [str(ROOT / "deploy" / "install-wheel.sh"), str(prefix), str(wheel)],
        env=offline, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.startswith("mcos, version ")

    home = tmp_path / "var-lib-mcos"
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MCOS_", "VIRTUAL_ENV"))}
    with own_postgres_database("container") as database:
        env = (
            base
            | IMAGE_ENV
            | COMPOSE_ENV
            | {
                "PATH": f"{prefix / 'bin'}:/usr/bin:/bin",
                "HOME": str(home),
                "MCOS_FLEET": str(home / "fleet"),
                "MCOS_PORT": str(port),
                "MCOS_DATABASE_URL": database,
            }
        )
        first = start(env, home, "first")
        try:
            health = wait_healthy(first, port, home / "first.log")
            token = (home / "fleet" / ".mcos" / "operator.token").read_text().strip()
            assert health["database"] == "postgresql" and health["agents"] == 23
            headers = {"Authorization": f"Bearer {token}"}
            agents = httpx.get(f"http://127.0.0.1:{port}/api/v1/agents", headers=headers)
            assert len(agents.json()["agents"]) == 23
        finally:
            assert stop(first) in STOPPED
        said = (home / "first.log").read_text()
        assert "the operator token is in" in said and token not in said, "no token in the log"

        # A restart (a new container on the same volume): the fleet is kept, migrations are a
        # no-op, and the same operator token still signs in.
        second = start(env, home, "second")
        try:
            wait_healthy(second, port, home / "second.log")
            agents = httpx.get(f"http://127.0.0.1:{port}/api/v1/agents", headers=headers)
            assert agents.status_code == 200
        finally:
            assert stop(second) in STOPPED
        assert "wrote a new fleet" not in (home / "second.log").read_text()

        plain = env | {"MCOS_BEHIND_PROXY": "false"}
        refused = subprocess.run(
            [str(ROOT / "deploy" / "docker-entrypoint.sh")],
            env=plain, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode == 1 and "(field: --host)" in refused.stderr


def start(env: dict[str, str], home: Path, name: str) -> subprocess.Popen[bytes]:
    home.mkdir(exist_ok=True)
    with (home / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            [str(ROOT / "deploy" / "docker-entrypoint.sh")],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
            if answer.status_code == 200:
                health: dict[str, object] = answer.json()
                return health
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the control plane did not answer:\n{log.read_text()}")
