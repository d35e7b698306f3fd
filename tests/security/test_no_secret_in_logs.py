"""No secret in any log line: a control plane and a runner logging at DEBUG to files, driven
through what handles secrets (agent, runner and operator tokens, a model call with a known API
key, a refused wrong token, the dashboard's sign-in), then every line scanned for every secret,
whole or any 16 characters of it."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.server import Server, running_server
from tests.runtime.test_mcos_run import create_task, stop, wait_until

WINDOW = 16
"""A leak of this many characters of a secret counts as a leak."""
API_KEY = "sk-ant-api03-" + secrets.token_urlsafe(32)
"""Elon's provider key: the fake provider checks it arrives, no log may show it."""


def leaks(text: str, secret: str) -> list[str]:
    """The lines of ``text`` holding ``secret`` or any ``WINDOW`` characters of it."""
    pieces = {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}
    return [line for line in text.splitlines() if any(p in line for p in pieces)]


def test_leaks_finds_a_piece_of_a_secret() -> None:
    secret = "mcos_o_" + "x" * 10 + "0123456789abcdefXYZ"
    assert leaks("ok\nsaw 0123456789abcdef here\n", secret) == ["saw 0123456789abcdef here"]
    assert leaks("ok\nsaw 0123456789abcde here\n", secret) == []  # 15 characters only


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Path], set[str]]]:
    folder = tmp_path_factory.mktemp("logs")
    settings = {
        "MCOS_LOG_LEVEL": "debug",
        "MCOS_ACCESS_LOG": "true",
        "MCOS_LOG_FORMAT": "json",
    }
    with running_server(folder, f"sqlite+pysqlite:///{folder / 'mcos.db'}", settings) as srv:
        used = _drive(srv)
    yield [srv.log_path, srv.fleet_dir / "run-velo.log"], used


def _drive(srv: Server) -> set[str]:
    """Everything that touches a secret, once; the secrets it used."""
    used = {srv.operator_token, API_KEY}
    with srv.client() as operator:
        issued = operator.post("/api/v1/tokens", json={"kind": "runner", "machine": "velo"})
        assert issued.status_code == 201, issued.text
        runner_token = issued.json()["token"]
        flow_token = srv.agent_token("flow")
        used |= {runner_token, flow_token}
        with srv.client(flow_token) as flow:
            assert flow.post("/api/v1/agents/flow/heartbeat", json={}).status_code == 200
        wrong = "mcos_o_" + secrets.token_urlsafe(32)
        used.add(wrong)
        with srv.client(wrong) as stranger:
            assert stranger.get("/api/v1/agents").status_code == 401
            assert stranger.post("/api/v1/agents/flow/heartbeat", json={}).status_code == 401
        with srv.anonymous() as browser:
            signed_in = browser.post(
                "/api/v1/dashboard/session",
                json={"token": srv.operator_token},
                headers={"Origin": srv.url},
            )
            assert signed_in.status_code == 200, signed_in.text
            session = signed_in.cookies["mcos_session"]
            used.add(session)
            assert browser.get("/api/v1/dashboard/snapshot").status_code == 200
            bad = browser.post(
                "/api/v1/dashboard/session", json={"token": wrong}, headers={"Origin": srv.url}
            )
            assert bad.status_code == 401
        _run_a_task(srv, operator, runner_token)
    return used


def _run_a_task(srv: Server, operator: httpx.Client, runner_token: str) -> None:
    """``mcos run -v --log-format json`` (DEBUG) with a runner token does one task of Elon's on
    the fake Anthropic API, which sees Elon's key."""
    script = Script(
        [Rule(key=API_KEY, times=1, steps=(Step.call("run_shell", {"command": "true"}),))]
    )
    env = srv.env | {
        "MCOS_TOKEN": runner_token,
        "ANTHROPIC_BASE_URL": "",
        "MCOS_ELON_ANTHROPIC_KEY": API_KEY,
    }
    with FakeProviderServer(script) as fake:
        env["ANTHROPIC_BASE_URL"] = fake.url
        task = create_task(operator, "Check the build", "elon")
        with (srv.fleet_dir / "run-velo.log").open("ab") as log:
            runner = subprocess.Popen(
                [
                    *(sys.executable, "-m", "mcos", "--fleet", str(srv.fleet_dir), "run", "-v"),
                    *("--machine", "velo", "--agent", "elon", "--log-format", "json"),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: operator.get(f"/api/v1/tasks/{task}").json()["status"] == "review")
            # The runner reports its outbox's depth with each heartbeat; /metrics shows it.
            wait_until(lambda: 'mcos_runner_outbox_pending{agent="elon"' in scrape(operator))
        finally:
            assert stop(runner) == 0
        assert {r.key for r in fake.requests} == {API_KEY}, "the key reached the provider"


def scrape(operator: httpx.Client) -> str:
    answer = operator.get("/metrics")
    assert answer.status_code == 200, answer.text
    return answer.text


def test_no_log_line_holds_a_secret(logged: tuple[list[Path], set[str]]) -> None:
    files, used = logged
    for path in files:
        text = path.read_text()
        for secret in used:
            assert leaks(text, secret) == [], f"{path.name} shows a secret"


def test_the_logs_were_written_at_debug(logged: tuple[list[Path], set[str]]) -> None:
    """The scan means something: both processes logged, in detail, requests with their ids."""
    serve, run = (
        [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
        for path in logged[0]
    )
    assert {"DEBUG", "INFO"} <= {line["level"] for line in serve}
    access = [line for line in serve if line["logger"] == "uvicorn.access"]
    assert any(line["status"] == 401 for line in access), "the wrong token's refusal is logged"
    assert all(line["request_id"] for line in access)
    assert {"DEBUG", "INFO"} <= {line["level"] for line in run}
    assert any(line["logger"].startswith("mcos.runtime") for line in run)
