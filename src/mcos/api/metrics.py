"""``GET /metrics``: this replica's metrics in Prometheus's text format.

Two kinds of figures. What this process did is counted as it happens, in its own registry
(several apps may live in one test process): HTTP requests by route template and status, the
events this replica's writer committed, the writer's batches, and the process itself. What the
fleet looks like is read at scrape time: live-stream subscribers and their backlog from the
broker, each runner's outbox depth from the heartbeats the broker last saw, and each agent's
liveness, spend today and daily budget from two light queries (:mod:`mcos.services.gauges`).

``MCOS_METRICS`` decides who may scrape: ``token`` (an operator's bearer token, the default),
``open`` (anyone who can reach the port), or ``off`` (no route at all).
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mcos.api.auth import CurrentPrincipal
from mcos.contract import paths
from mcos.contract.errors import errors
from mcos.domain import events as ev
from mcos.domain.events import Event
from mcos.domain.liveness import Liveness
from mcos.fleet.schema import Fleet
from mcos.services.access import require_operator
from mcos.services.gauges import AgentGauge, agent_gauges
from mcos.services.store import Store
from mcos.stream import Broker

FAMILIES = frozenset(
    [
        value.partition(".")[0]
        for name, value in vars(ev).items()
        if name.isupper() and isinstance(value, str) and "." in value
    ]
    + ["runtime"]  # what mcos run reports of its agents (runtime.task_escalated, ...)
)
"""The event families named as such; an agent's own namespaces count as ``other``, since any
number of them could come (``POST /api/v1/events``)."""
OTHER_FAMILY = "other"
UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404): raw paths would be unbounded."""
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    """This process's instruments, and the outbox depths runners last reported."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mcos_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mcos_http_request_duration_seconds",
            "Time from a request's arrival to its response's headers, by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "mcos_events_ingested",
            "Events this replica's writer committed, by family (the type up to its first dot; "
            "`other` for the namespaces agents report in).",
            ["family"],
            registry=self.registry,
        )
        self.batch_writes = Histogram(
            "mcos_writer_batch_writes",
            "Writes (units) committed together in one transaction by this replica's writer.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "mcos_writer_commit_seconds",
            "Time the writer took to run and commit one batch.",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.registry.register(_StreamCollector(broker))
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.outbox_pending: dict[str, int] = {}
        """Per agent: the pending count of its runner's outbox, from its latest heartbeat."""

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count and time one answered request (on the loop). The labelled children are kept:
        looking them up again costs more than the update itself."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def observe_batch(self, writes: int, seconds: float, committed: list[Event]) -> None:
        """The writer's observer (on its thread): one batch committed."""
        self.batch_writes.observe(writes)
        self.commit_seconds.observe(seconds)
        for family, count in Tally(_family(e.type) for e in committed).items():
            self.events.labels(family).inc(count)

    def on_events(self, published: list[Event]) -> None:
        """A broker listener: the outbox depth each heartbeat carried (every replica sees every
        heartbeat, so each reports the same depths)."""
        for event in published:
            if event.type == ev.AGENT_HEARTBEAT and "outbox_pending" in event.data:
                self.outbox_pending[event.data["agent"]] = int(event.data["outbox_pending"])

    def exposition(self, fleet: Fleet, agents: list[AgentGauge]) -> bytes:
        scraped = CollectorRegistry(auto_describe=False)
        scraped.register(_FleetCollector(fleet, agents, dict(self.outbox_pending)))
        return generate_latest(self.registry) + generate_latest(scraped)


def _family(event_type: str) -> str:
    family = event_type.partition(".")[0]
    return family if family in FAMILIES else OTHER_FAMILY


class _StreamCollector(Collector):
    """Live-stream subscribers of this replica and how far behind they are."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def collect(self) -> Iterable[GaugeMetricFamily]:
        waiting = [s.pending_events for s in list(self.broker.subscribers)]
        yield GaugeMetricFamily(
            "mcos_stream_subscribers", "Live streams open on this replica.", len(waiting)
        )
        yield GaugeMetricFamily(
            "mcos_stream_lag_events_max",
            "Most events published but not yet sent to one subscriber (it is told to resync "
            "past MCOS_STREAM_MAX_PENDING).",
            max(waiting, default=0),
        )
        yield GaugeMetricFamily(
            "mcos_stream_lag_events",
            "Events published but not yet sent, summed over this replica's subscribers.",
            sum(waiting),
        )
        yield GaugeMetricFamily(
            "mcos_stream_last_seq",
            "The newest event sequence number published.",
            self.broker.last_seq,
        )


class _FleetCollector(Collector):
    """Per-agent gauges read for one scrape."""

    def __init__(self, fleet: Fleet, agents: list[AgentGauge], outbox: dict[str, int]) -> None:
        self.fleet = fleet
        self.agents = agents
        self.outbox = outbox

    def collect(self) -> Iterable[GaugeMetricFamily]:
        who = ["agent", "machine"]
        liveness = GaugeMetricFamily(
            "mcos_agent_liveness",
            "1 for the agent's current liveness, 0 for the others.",
            labels=[*who, "liveness"],
        )
        since = GaugeMetricFamily(
            "mcos_agent_seconds_since_heartbeat",
            "Seconds since the agent's last heartbeat (absent: it never sent one).",
            labels=who,
        )
        spend_usd = GaugeMetricFamily(
            "mcos_agent_spend_today_usd",
            "What the agent spent today (the fleet's time zone), in US dollars.",
            labels=who,
        )
        spend_tokens = GaugeMetricFamily(
            "mcos_agent_spend_today_tokens", "Tokens the agent used today.", labels=who
        )
        budget_usd = GaugeMetricFamily(
            "mcos_agent_budget_daily_usd",
            "The agent's daily budget in US dollars (absent: none).",
            labels=who,
        )
        budget_tokens = GaugeMetricFamily(
            "mcos_agent_budget_daily_tokens",
            "The agent's daily budget in tokens (absent: none).",
            labels=who,
        )
        outbox = GaugeMetricFamily(
            "mcos_runner_outbox_pending",
            "Reports waiting in the outbox of the agent's runner, as its latest heartbeat said "
            "(absent: its runner does not report it).",
            labels=who,
        )
        for agent in self.agents:
            labels = [agent.name, agent.machine]
            for state in Liveness:
                liveness.add_metric([*labels, state.value], float(state.value == agent.liveness))
            if agent.seconds_since_heartbeat is not None:
                since.add_metric(labels, agent.seconds_since_heartbeat)
            spend_usd.add_metric(labels, agent.spend_today_usd)
            spend_tokens.add_metric(labels, agent.spend_today_tokens)
            if agent.daily_budget_usd is not None:
                budget_usd.add_metric(labels, agent.daily_budget_usd)
            if agent.daily_budget_tokens is not None:
                budget_tokens.add_metric(labels, agent.daily_budget_tokens)
            if agent.name in self.outbox:
                outbox.add_metric(labels, self.outbox[agent.name])
        yield from (liveness, since, spend_usd, spend_tokens, budget_usd, budget_tokens, outbox)


async def _scrape(request: Request) -> Response:
    store: Store = request.app.state.store
    metrics: Metrics = request.app.state.metrics
    gauges = await store.read(agent_gauges, store.fleet, datetime.now(UTC))
    # On the loop, which owns the broker's subscribers; a millisecond or so.
    body = metrics.exposition(store.fleet, gauges)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


SUMMARY = "This replica's metrics, in Prometheus's text format"
TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}
}


def metrics_router(mode: str) -> APIRouter:
    """The route ``MCOS_METRICS`` asks for: none (``off``), open, or for operators only."""
    router = APIRouter(tags=["meta"])
    if mode == "open":

        @router.get(paths.METRICS, summary=SUMMARY, response_class=Response, responses=TEXT)
        async def open_metrics(request: Request) -> Response:
            return await _scrape(request)

    elif mode == "token":

        @router.get(
            paths.METRICS,
            summary=SUMMARY,
            response_class=Response,
            responses={**TEXT, **errors()},
        )
        async def metrics(request: Request, principal: CurrentPrincipal) -> Response:
            require_operator(principal, "read the metrics")
            return await _scrape(request)

    return router
