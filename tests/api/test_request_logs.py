"""Request ids and JSON logs: ``X-Request-ID`` on every answer, and ``mcos serve --log-format
json`` writing one object per line whose access lines carry the request's id."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.app import in_process_server
from tests.fixtures.server import free_port, mcos_env, run_mcos

NEW_ID = re.compile(r"[0-9a-f]{16}")


def test_every_answer_carries_a_request_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with in_process_server(tmp_path, url, monkeypatch) as api:
        with api.client() as operator, api.anonymous() as anonymous:
            kept = operator.get("/api/v1/agents", headers={"X-Request-ID": "trace-7f3a.1:b"})
            assert kept.headers["x-request-id"] == "trace-7f3a.1:b", "a sane id is kept"
            for answer in (
                operator.get("/api/v1/health"),
                anonymous.get("/api/v1/agents"),  # 401
                operator.get("/no/such/path"),  # 404
                operator.post("/api/v1/tasks", json={"title": ""}),  # 422
            ):
                assert NEW_ID.fullmatch(answer.headers["x-request-id"]), answer.status_code
            ids = {operator.get("/api/v1/health").headers["x-request-id"] for _ in range(3)}
            assert len(ids) == 3, "each request its own id"
            insane: str | bytes
            for insane in ("has space", "x" * 129, "-leading-dash", "ünïcode".encode(), "a/b"):
                replaced = operator.get("/api/v1/health", headers={"X-Request-ID": insane})
                assert NEW_ID.fullmatch(replaced.headers["x-request-id"]), insane


def test_serve_log_format_json(tmp_path: Path) -> None:
    env = mcos_env(tmp_path) | {
        "MCOS_DATABASE_URL": f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}",
        "MCOS_ACCESS_LOG": "true",
    }
    fleet = tmp_path / "fleet"
    run_mcos("init", str(fleet), env=env)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [
                *(sys.executable, "-m", "mcos", "serve", "--fleet", str(fleet)),
                *("--port", str(port), "--log-format", "json"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert serve.poll() is None, log.read_text()
            try:
                httpx.get(url + "/api/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        answer = httpx.get(url + "/api/v1/agents", headers={"X-Request-ID": "probe-1"})
        assert answer.status_code == 401
    finally:
        serve.terminate()
        serve.wait(30)
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    assert lines, log.read_text()
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
    [probe] = [x for x in lines if x.get("request_id") == "probe-1"]
    assert probe["logger"] == "uvicorn.access"
    assert (probe["method"], probe["path"], probe["status"]) == ("GET", "/api/v1/agents", 401)
    assert any(x["logger"] == "uvicorn.error" and "startup complete" in x["message"] for x in lines)
