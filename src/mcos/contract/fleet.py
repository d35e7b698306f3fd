"""What the control plane answers about the fleet: agents, their runtime reports, budgets,
orchestration, schedules, spend, value and the briefing.

Each model is the body a route really returns (checked in ``tests/contract/test_responses.py``
against a running control plane). Routes still answer prebuilt JSON: these models document the
wire and type a client's reading of it; the server never re-validates its own answer. Deeply
nested figures (the briefing's sections, the value ledger's per-kind lines) are typed as JSON
objects where their shape belongs to their service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from mcos.contract.agent import Answer, Budget, Gauge, Spent, Task

Json = dict[str, Any]


class Agent(Answer):
    """One agent: identity from the fleet file, liveness derived here, its gauge and state."""

    name: str
    display_name: str
    role: str
    title: str
    machine: str
    provider: str
    model: str
    liveness: str
    """``working``, ``idle``, ``stalled``, ``offline``, ``suspended``, ``cooling_down``,
    ``compacting`` (see :class:`mcos.domain.liveness.Liveness`)."""
    reported_status: str | None
    last_heartbeat_at: datetime | None
    seconds_since_heartbeat: float | None
    gauge: Gauge | None
    context_window: int
    flush_line: int
    current_task: int | None
    note: str | None
    capabilities: list[str]
    channels: list[str]
    supervisor: str | None
    credential_env: str | None
    heartbeats: int
    cooldown_until: datetime | None
    last_flush_at: datetime | None
    last_compaction_at: datetime | None
    compactions: int
    paused: bool
    paused_reason: str | None
    message_cursor: int
    set_aside_reports: int
    last_set_aside: Json | None
    warnings: list[str]


class AgentList(Answer):
    agents: list[Agent]
    now: datetime


class Nudged(Answer):
    agent: str
    reason: str
    seq: int
    """The ``agent.nudged`` event."""


class AgentToken(Answer):
    """A new agent token: shown once."""

    agent: str
    token: str
    note: str


class Compacted(Answer):
    agent: str
    tokens_before: int
    tokens_after: int
    compacted_at: datetime
    compactions: int


class SetAside(Answer):
    agent: str
    set_aside_reports: int
    last: Json
    """The report set aside: method, path, status, error, ts."""


class Cooling(Answer):
    agent: str
    credential: str | None
    until: datetime
    retry_after_seconds: float


class BudgetState(Answer):
    """An agent's spend against its limits (``PATCH .../budget``, and ``.../budget/check``
    with ``allowed``)."""

    agent: str
    spent: Spent
    budget: Budget
    paused: bool | None = None
    allowed: bool | None = None


class Suspended(Answer):
    agent: str
    reason: str
    by: str
    liveness: str
    seq: int


class Routed(Answer):
    """The orchestrator's routing decision, with its reasons; the task unless ``dry_run``."""

    agent: str | None
    rule: str | None
    summary: str
    explanation: str
    matched: list[Json]
    considered: list[Json]
    request: Json
    task_id: int | None
    dry_run: bool
    task: Task | None
    seq: int


class Schedule(Answer):
    name: str
    cron: str
    timezone: str
    action: Json
    next_run: datetime
    last_run: Json | None
    missed: int
    registered_at: datetime | None


class ScheduleList(Answer):
    schedules: list[Schedule]
    now: datetime


class ScheduleRun(Answer):
    """A run made now (``trigger`` ``manual``); ``task`` and ``assignee`` for a task action."""

    schedule: str
    run: int
    due_at: datetime
    trigger: str
    action: str
    task: int | None = None
    assignee: str | None = None


class AgentSpend(Answer):
    agent: str
    paused: bool
    paused_reason: str | None
    spent: Spent
    budget: Budget


class UsageSummary(Answer):
    """Spend today and this month, per agent against budget and per model."""

    day_starts: datetime
    month_starts: datetime
    today_usd: float
    month_usd: float
    agents: list[AgentSpend]
    models_this_month: list[Json]
    models_today: list[Json]


class ValueWindow(Answer):
    """Time saved by accepted work against spend plus fixed costs, over one window."""

    since: datetime
    kinds: list[Json]
    tasks_credited: int
    hours_saved: float
    value_usd: float
    spend_usd: float
    fixed_costs: Json
    fixed_costs_usd: float
    cost_usd: float
    roi: float | None
    missing_exchange_rates: list[str]


class ValueSummary(Answer):
    currencies: list[str]
    exchange_rates: dict[str, float]
    today: ValueWindow
    month: ValueWindow


class Briefing(Answer):
    """The morning briefing: every figure read from the data, and the model's own text."""

    fleet: str
    generated_at: datetime
    since: datetime
    hours: int
    written_by: str | None
    agents: Json
    work: Json
    incidents: list[Json]
    committees: list[Json]
    waiting: Json
    spend: Json
    misbehaviour: list[Json]
    schedule_attention: Json
    planned: list[Json]
    scheduled_today: list[Json]
    value: Json | None
    written: Json | None
    markdown: str
    data_markdown: str


class Health(Answer):
    status: Literal["ok"]
    version: str
    fleet: str
    database: Literal["sqlite", "postgresql"]
    last_seq: int
    agents: int
    stream_subscribers: int


class FleetView(Answer):
    """``GET /api/v1/fleet``: the fleet file as the caller may see it (``mcos.fleet.view``)."""

    version: str
    """A hash of ``fleet``; also the ``ETag`` (``If-None-Match`` answers 304)."""
    scope: Literal["fleet", "machine", "agent"]
    machine: str | None
    agent: str | None
    fleet: dict[str, Any]
    """The fleet file's keys (its reference: ``mcos.fleet.schema``), never a secret."""
