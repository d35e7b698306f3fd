"""Two control-plane replicas on one PostgreSQL database: each streams every replica's events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.fixtures.database import reset_postgres
from tests.fixtures.server import Server, init_here, mcos_env


@pytest.fixture
def replicas(tmp_path: Path, postgres_database: str) -> Iterator[tuple[Server, Server]]:
    reset_postgres(postgres_database)
    env = mcos_env(tmp_path) | {"MCOS_DATABASE_URL": postgres_database}
    init_here(tmp_path / "fleet", env)
    first = Server(tmp_path / "fleet", postgres_database, env)
    second = Server(tmp_path / "fleet", postgres_database, env)
    first.start()
    second.start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def _read_events(response: httpx.Response, want: int, deadline: float) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for line in response.iter_lines():
        if line.startswith("data:"):
            events.append(orjson.loads(line[5:]))
            if len(events) >= want:
                break
        if time.monotonic() > deadline:
            break
    return events


def test_each_replica_streams_every_replicas_writes_in_order(
    replicas: tuple[Server, Server],
) -> None:
    first, second = replicas
    token = first.agent_token("donna")
    headers = {"Authorization": f"Bearer {first.operator_token}"}
    with httpx.stream(
        "GET",
        f"{second.url}/api/v1/stream",
        headers=headers,
        params={"types": "agent.heartbeat"},
        timeout=httpx.Timeout(10, read=10),
    ) as stream:
        assert stream.status_code == 200
        for index in range(20):
            target = first if index % 2 == 0 else second
            response = httpx.post(
                f"{target.url}/api/v1/agents/donna/heartbeat",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "id": f"hb-{index}",
                    "note": f"via {'first' if target is first else 'second'}",
                },
            )
            assert response.status_code == 200, response.text
        events = _read_events(stream, 20, time.monotonic() + 15)
    notes = [e["data"]["note"] for e in events]  # type: ignore[index]
    assert notes == [f"via {'first' if i % 2 == 0 else 'second'}" for i in range(20)]
    seqs = [int(e["seq"]) for e in events]  # type: ignore[call-overload]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
