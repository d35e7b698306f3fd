"""``GET /metrics``: a real server scraped after real traffic, its figures checked against what
was done and against what the API itself says; and who may scrape (``MCOS_METRICS``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message, Receive, Scope, Send

from mcos.api.metrics import Metrics
from mcos.api.observe import RequestObserver
from mcos.domain.events import Event
from mcos.stream import Broker
from tests.fixtures.app import in_process_server
from tests.fixtures.server import Server, running_server
from tests.runtime.test_mcos_run import wait_until
from tests.test_replication import replicas

__all__ = ["replicas"]  # two `mcos serve` on one PostgreSQL database

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
HEARTBEAT = "/api/v1/agents/{name}/heartbeat"


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def labelled(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for (sample, labels) in samples if sample == name]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("metrics")
    # No sweep or schedule during the test: every event in the log is one of ours.
    quiet = {"MCOS_LIVENESS_SWEEP_SECONDS": "3600", "MCOS_SCHEDULE_TICK_SECONDS": "3600"}
    with running_server(folder, f"sqlite+pysqlite:///{folder / 'mcos.db'}", quiet) as srv:
        yield srv


def test_a_scrape_after_traffic_counts_what_was_done(server: Server) -> None:
    with server.client() as operator, server.agent("flow") as flow:
        before = scrape(operator)
        last_seq = int(value(before, "mcos_stream_last_seq"))
        for status in ("idle", "working", "idle"):
            beat = flow.post("/api/v1/agents/flow/heartbeat", json={"status": status})
            assert beat.status_code == 200, beat.text
        reported = flow.post(
            "/api/v1/agents/flow/heartbeat", json={"status": "idle", "outbox_pending": 7}
        )
        assert reported.status_code == 200, reported.text
        bad = flow.post("/api/v1/agents/flow/heartbeat", json={"outbox_pending": -1})
        assert bad.status_code == 422, "a negative outbox depth is refused"
        assert bad.json()["error"]["field"] == "outbox_pending"
        usage = flow.post(
            "/api/v1/agents/flow/usage", json={"input_tokens": 1200, "output_tokens": 300}
        )
        assert usage.status_code in (200, 201), usage.text
        own = flow.post("/api/v1/events", json={"type": "acme.deployed", "data": {"agent": "flow"}})
        assert own.status_code in (200, 201), own.text
        assert operator.get("/api/v1/agents/no-such-agent").status_code == 404
        assert operator.get("/no/such/path/flow").status_code == 404
        with httpx.Client(base_url=server.url, timeout=30) as anonymous:
            with anonymous.stream(
                "GET",
                "/api/v1/stream",
                headers={"Authorization": f"Bearer {server.operator_token}"},
            ) as stream:
                assert stream.status_code == 200
                chunks = stream.iter_raw()  # held: dropping it would close the stream
                assert next(chunks).startswith(b"retry:")  # subscribed, then this was sent
                after = scrape(operator)
        logged = operator.get("/api/v1/events", params={"after": last_seq, "limit": 1000})
        assert logged.status_code == 200, logged.text
        snapshot = operator.get("/api/v1/dashboard/snapshot").json()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Requests, by route template and status; the raw path never becomes a label.
    assert grew("mcos_http_requests_total", method="POST", route=HEARTBEAT, status="200") == 4
    assert grew("mcos_http_requests_total", method="POST", route=HEARTBEAT, status="422") == 1
    assert grew("mcos_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert grew("mcos_http_request_duration_seconds_count", method="POST", route=HEARTBEAT) == 5
    routes = {labels["route"] for labels in labelled(after, "mcos_http_requests_total")}
    assert not any("flow" in route for route in routes), routes

    # Events: exactly those the log gained, by family.
    events = logged.json()["events"]
    families = Counter(
        e["type"].partition(".")[0]
        for e in events
        if e["seq"] <= value(after, "mcos_stream_last_seq")
    )
    assert families["agent"] >= 4 and families["usage"] >= 1, families
    # An agent's own namespace is counted as `other`: agents could invent any number of them.
    assert families.pop("acme") == 1
    assert grew("mcos_events_ingested_total", family="other") == 1
    assert not [x for x in labelled(after, "mcos_events_ingested_total") if x["family"] == "acme"]
    for family, count in families.items():
        assert grew("mcos_events_ingested_total", family=family) == count, family

    # The writer: every batch timed, and at least one write per request that wrote.
    batches = grew("mcos_writer_batch_writes_count")
    assert batches >= 1
    assert grew("mcos_writer_commit_seconds_count") == batches
    assert grew("mcos_writer_batch_writes_sum") >= 6  # four heartbeats, the usage, the event

    # The live stream held open during the scrape.
    assert value(after, "mcos_stream_subscribers") == 1
    assert value(after, "mcos_stream_lag_events_max") >= 0

    # Per agent: the same figures as the dashboard's snapshot.
    for agent in snapshot["agents"]:
        who = {"agent": agent["name"], "machine": agent["machine"]}
        assert value(after, "mcos_agent_liveness", **who, liveness=agent["liveness"]) == 1
        states = [
            labels
            for labels in labelled(after, "mcos_agent_liveness")
            if labels["agent"] == agent["name"] and value(after, "mcos_agent_liveness", **labels)
        ]
        assert len(states) == 1, states
        spend = agent["spend"]
        assert value(after, "mcos_agent_spend_today_usd", **who) == pytest.approx(
            spend["today_usd"]
        )
        if spend["daily_budget_usd"] is None:
            assert not [x for x in labelled(after, "mcos_agent_budget_daily_usd") if x == who]
        else:
            assert value(after, "mcos_agent_budget_daily_usd", **who) == spend["daily_budget_usd"]
    flow_labels = {"agent": "flow", "machine": "velo"}
    assert value(after, "mcos_agent_spend_today_usd", **flow_labels) > 0
    assert value(after, "mcos_agent_spend_today_tokens", **flow_labels) == 1500
    assert value(after, "mcos_agent_seconds_since_heartbeat", **flow_labels) >= 0

    # The outbox depth flow's heartbeat carried; agents whose runner said nothing have none.
    assert value(after, "mcos_runner_outbox_pending", **flow_labels) == 7
    assert [x["agent"] for x in labelled(after, "mcos_runner_outbox_pending")] == ["flow"]

    # This process's own figures.
    assert value(after, "process_resident_memory_bytes") > 0


def test_only_an_operator_scrapes_by_default(server: Server) -> None:
    with server.anonymous() as anonymous:
        refused = anonymous.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["error"]["field"] == "Authorization"
    with server.agent("donna") as donna:
        assert donna.get("/metrics").status_code == 403


@pytest.mark.parametrize(("mode", "status"), [("open", 200), ("off", 404)])
def test_metrics_open_or_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, status: int
) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with in_process_server(tmp_path, url, monkeypatch, {"MCOS_METRICS": mode}) as api:
        with api.anonymous() as anonymous:
            assert anonymous.get("/metrics").status_code == status
        with api.client() as operator:
            paths = operator.get("/openapi.json").json()["paths"]
        assert ("/metrics" in paths) == (mode == "open")


def test_a_bad_metrics_setting_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with pytest.raises(ValueError, match="metrics"):
        with in_process_server(tmp_path, url, monkeypatch, {"MCOS_METRICS": "public"}):
            pass


def test_each_replica_counts_its_own_requests_and_reports_the_same_fleet(
    replicas: tuple[Server, Server],
) -> None:
    first, second = replicas
    flow_labels = {"agent": "flow", "machine": "velo"}
    with first.client() as one, second.client() as other, first.agent("flow") as flow:
        before = scrape(one), scrape(other)
        beat = flow.post("/api/v1/agents/flow/heartbeat", json={"outbox_pending": 3})
        assert beat.status_code == 200, beat.text
        # Every replica hears of the heartbeat through PostgreSQL (mcos.replication).
        for client in (one, other):
            wait_until(
                lambda c=client: value(scrape(c), "mcos_runner_outbox_pending", **flow_labels) == 3
            )
        after = scrape(one), scrape(other)

    def grown(name: str, **labels: str) -> list[float]:
        pairs = zip(after, before, strict=True)
        return [value(a, name, **labels) - value(b, name, **labels) for a, b in pairs]

    heartbeats = {"method": "POST", "route": HEARTBEAT, "status": "200"}
    assert grown("mcos_http_requests_total", **heartbeats) == [1, 0], "by the replica answering"
    first_wrote, second_wrote = grown("mcos_events_ingested_total", family="agent")
    assert first_wrote >= 1 and second_wrote == 0, "events by the replica that wrote them"
    for samples in after:
        assert value(samples, "mcos_agent_liveness", **flow_labels, liveness="idle") == 1


def _events(first: int, count: int) -> list[Event]:
    now = datetime.now(UTC)
    return [
        Event(seq, now, "task.created", "system", None, {}) for seq in range(first, first + count)
    ]


def test_stream_lag_is_what_each_subscriber_has_not_taken() -> None:
    broker = Broker(max_pending=10)
    metrics = Metrics(broker)
    reader, laggard = broker.subscribe(), broker.subscribe()

    def stream_figures() -> tuple[float, float, float]:
        samples = {
            sample.name: sample.value
            for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
            for sample in family.samples
        }
        return (
            samples["mcos_stream_subscribers"],
            samples["mcos_stream_lag_events"],
            samples["mcos_stream_lag_events_max"],
        )

    broker.publish(_events(1, 3))
    assert stream_figures() == (2, 6, 3)
    reader.take()
    assert stream_figures() == (2, 3, 3), "the reader caught up; the laggard did not"
    broker.publish(_events(4, 8))  # the laggard would hold 11 > 10: told to resync instead
    assert laggard.overflowed
    assert stream_figures() == (2, 8, 8)
    laggard.close()
    assert stream_figures() == (1, 8, 8)


def test_a_made_up_method_adds_no_series() -> None:
    """The HTTP parser in front refuses most (400); whatever gets through counts as ``other``."""
    metrics = Metrics(Broker())
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    observer = RequestObserver(app, metrics)
    for method in ("BREW", "PROPFIND", "GET"):
        scope = {"type": "http", "method": method, "path": "/x", "headers": []}
        asyncio.run(observer(scope, receive, send))
    counted = {
        sample.labels["method"]: sample.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for sample in family.samples
        if sample.name == "mcos_http_requests_total"
    }
    assert counted == {"other": 2, "GET": 1}
    assert all((b"x-request-id" in dict(m["headers"])) for m in sent if "headers" in m)
