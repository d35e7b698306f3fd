"""What the control plane answers about the work around the agents: files, committees, legal
drafts, the entity registry, watched services, notify channels, tokens, the log in bulk and the
dashboard's reads (mail is :mod:`mcos.contract.mail`).

As in :mod:`mcos.contract.fleet`, each model is a body a route really returns, checked against a
running control plane in ``tests/contract/test_responses.py``; nested figures whose shape belongs
to one service are typed as JSON objects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from mcos.contract.agent import Answer, Approval, Incident, Message, Task, Token
from mcos.contract.errors import ErrorDetail
from mcos.contract.fleet import Agent
from mcos.contract.vocab import OperatorRole

Json = dict[str, Any]


class Artifact(Answer):
    """One version of a file on a task; ``opened_by`` lists who opened it (the audit)."""

    id: int
    task_id: int
    name: str
    version: int
    sha256: str
    size: int
    content_type: str
    created_by: str
    created_at: datetime
    note: str
    opened_by: list[str]


class ArtifactList(Answer):
    artifacts: list[Artifact]
    acceptances: list[Json]


class ArtifactPreview(Answer):
    artifact: Artifact
    preview: Json
    """``kind`` (``text``, ``markdown``, ``docx``, ``xlsx``...) and what it shows."""


class Tally(Answer):
    for_: int = Field(alias="for")
    against: int
    veto: int
    abstain: int
    given: int
    voters: int


class Position(Answer):
    """One voter's position, given once and final."""

    member: str
    position: Literal["for", "against", "abstain", "veto"]
    reasons: str
    ts: datetime
    given_by: str | None = None
    """Who gave it: the agent, or the person who gave the ``human`` vote (``operator:alice``)."""


class Committee(Answer):
    """A decision put to named agents (and ``human``): positions, tally and minutes."""

    id: int
    title: str
    question: str
    opened_by: str
    created_at: datetime
    members: list[str]
    human: bool
    voters: list[str]
    quorum: int
    rule: str
    status: str
    outcome: str | None
    explanation: str
    tally: Tally
    positions: list[Position]
    waiting_for: list[str]
    minutes: str | None
    decided_at: datetime | None
    approval_id: int | None
    task_id: int | None


class CommitteeList(Answer):
    committees: list[Committee]


class LegalTemplates(Answer):
    templates: list[Json]
    """Each template: key, title, style, description, its parties and fields."""


class LegalDraft(Answer):
    """A draft rendered from the registry, checked, attached to the task and sent to review."""

    task: int
    status: str
    template: str
    parties: dict[str, Json]
    """Each role and the registry's facts about its party, as the draft shows them."""
    artifact: Artifact


class Disagreement(Answer):
    """Where a document disagrees with the registry: the rule, what was found, and why."""

    rule: str
    found: str
    message: str


class LegalCheck(Answer):
    agrees: bool
    disagreements: list[Disagreement]


class Company(Answer):
    key: str
    legal_name: str
    trading_as: str | None = None
    kind: str
    country: str | None = None
    registration_number: str | None = None
    vat_number: str | None = None
    registered_address: str | None = None
    postal_address: str | None = None
    domicilium_address: str | None = None
    email: str | None = None
    bank_ref: str | None = None
    directors: list[Json] = Field(default_factory=list)
    signatories: list[Json] = Field(default_factory=list)


class Person(Answer):
    key: str
    full_name: str
    id_number: str | None = None
    passport: str | None = None
    nationality: str | None = None
    email: str | None = None
    address: str | None = None
    capacity: str | None = None
    companies: list[Json] = Field(default_factory=list)


class RegistryView(Answer):
    companies: list[Company]
    people: list[Person]
    personal_data: str
    """``full`` or ``masked``: whether ID and passport numbers are shown in full."""


class Service(Answer):
    """A watched service's state and its figures over the window; the detail adds history."""

    name: str
    kind: str
    machine: str
    owner: str
    target: str
    severity: str
    production: bool
    every_seconds: float
    description: str
    remedies: Json
    auto_restart: bool
    state: str
    since: datetime | None
    detail: str
    failures: int
    last_report_at: datetime | None
    watched_since: datetime | None
    uptime: float | None
    downtime_seconds: float
    outages: int
    mttr_seconds: float | None
    outages_stopped: int
    open_outage: Json | None
    history: list[Json] = Field(default_factory=list)
    last_diagnosis: str | None = None
    remediations: list[Json] = Field(default_factory=list)


class ServiceChange(Answer):
    """A state change as recorded: going down adds the outage, incident, task and the
    diagnosis's artifact; coming back adds the outage closed, its downtime and how it ended."""

    service: str
    machine: str
    agent: str
    state: str
    before: str
    at: datetime
    detail: str
    outage: int | None = None
    severity: str | None = None
    incident: int | None = None
    task: int | None = None
    artifact: int | None = None
    downtime_seconds: float | None = None
    recovered_by: str | None = None
    stopped: bool | None = None


class Remediation(Answer):
    """A remedy recorded, against the open outage if any."""

    service: str
    machine: str
    agent: str
    remediation: int
    action: str
    by: str
    exit_status: int | None
    ok: bool
    approval_id: int | None
    outage: int | None
    task: int | None


class ServiceList(Answer):
    services: list[Service]
    window_days: int
    totals: Json


class NotifyChannel(Answer):
    name: str
    kind: str
    carries: list[str]
    quiet_hours: str | None
    status: str
    failing_since: datetime | None
    error: str | None
    sent: int
    last_sent_at: datetime | None
    waiting: int


class NotifyOverview(Answer):
    channels: list[NotifyChannel]
    deliveries: list[Json]


class NotifyTest(Answer):
    channel: str
    ok: bool
    error: str | None
    delivery: str | None


class TokenList(Answer):
    tokens: list[Token]


class IssuedToken(Token):
    """A new token with its secret: shown once."""

    token: str
    note: str


class Operator(Answer):
    """A person who runs the fleet: their role and how many live tokens they hold."""

    name: str
    role: OperatorRole
    actor: str
    """How their decisions appear in the log: ``operator:alice``."""
    created_at: datetime
    created_by: str
    tokens: int


class OperatorList(Answer):
    operators: list[Operator]


class AddedOperator(Operator):
    """A new person with their first token: shown once."""

    token: str
    token_id: int
    note: str


class BatchItem(Answer):
    id: str
    status: str
    """``created`` or ``duplicate`` (the id was recorded before: nothing new)."""
    seq: int | None = None
    """The event recorded; none for a duplicate."""


class BatchResult(Answer):
    counts: dict[str, dict[str, int]]
    heartbeats: list[BatchItem]
    messages: list[BatchItem]
    events: list[BatchItem]


class ReportOutcome(Answer):
    """What one bundled report came to: its route's status and answer, or its error."""

    status: int
    body: dict[str, Any] | None = None
    error: ErrorDetail | None = None
    """``not_attempted`` (503): an earlier report of the same agent was not applied, or this
    one must be sent on its own; send it again, alone, after those before it."""


class ReportsResult(Answer):
    results: list[ReportOutcome]
    """One per report, in the order sent."""


class DashboardSession(Answer):
    operator: str
    role: OperatorRole
    """What the signed-in person may do: the page hides what their role may not."""
    csrf: str
    """Send it as ``X-CSRF-Token`` with every change made with the session cookie."""


class DashboardAgent(Agent):
    spend: Json


class DashboardTask(Task):
    artifacts: int | None = None


class DashboardApproval(Approval):
    operator_may_decide: bool
    waiting_for_you: bool


class DashboardIncident(Incident):
    waiting_for: list[str] = Field(default_factory=list)
    required: list[str] = Field(default_factory=list)
    decisions: list[Json] = Field(default_factory=list)
    expires_at: datetime | None = None
    seconds_left: float | None = None
    operator_may_decide: bool = False
    waiting_for_you: bool = False


class Snapshot(Answer):
    """Everything the dashboard's first view needs; the stream carries on from ``last_seq``."""

    last_seq: int
    now: datetime
    fleet: Json
    scenes: list[Json]
    operator: str
    role: OperatorRole | None
    """The signed-in person's role; ``operator_may_decide`` below is theirs."""
    agents: list[DashboardAgent]
    liveness_stalled_after_seconds: dict[str, float]
    liveness_offline_after_seconds: dict[str, float]
    tasks: list[DashboardTask]
    task_counts: dict[str, int]
    columns: list[str]
    transitions: dict[str, list[str]]
    approvals: list[DashboardApproval]
    incidents: list[DashboardIncident]
    committees: list[Committee]
    escalations: list[Json]
    notify: list[NotifyChannel]
    messages: list[Message]
    usage: Json
    health: Json
    value: Json | None


class Bucket(Answer):
    start: datetime
    tokens: int
    cost_usd: float
    calls: int
    by_model: dict[str, int]
    """Tokens per model in the hour."""


class Series(Answer):
    bucket_seconds: int
    buckets: list[Bucket]
    misses: list[Json]


class AgentPage(Answer):
    agent: DashboardAgent
    gauge_history: list[Json]
    calls: list[Json]
    notes: list[Json]
    denials: list[Json]
    tasks: list[Task]
    messages: list[Message]
