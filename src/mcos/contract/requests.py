"""Request bodies of the public API, validated by pydantic; shared by routes, services and batch.

Every model forbids unknown keys, so a typo is an error that names the field rather than a
silently ignored value. Scalars are strict and bounded by their columns (``mcos.inputs``), and
every value, free-form JSON included, must be storable on both backends: no NUL, no NaN.
"""

from __future__ import annotations

from datetime import datetime
from ipaddress import ip_address
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from mcos.contract.vocab import (
    OPERATOR_NAME_PATTERN,
    MessageKind,
    OperatorRole,
    Priority,
    Severity,
)
from mcos.domain.kanban import TaskStatus
from mcos.domain.liveness import ReportedStatus
from mcos.fleet.schema import NAME_PATTERN
from mcos.inputs import (
    Amount,
    Count,
    Day,
    Flag,
    Instant,
    RowId,
    Seq,
    TokenLimit,
    Tokens,
    check_storable,
)

ClientId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:\-]+$")]
AgentName = Annotated[str, Field(pattern=NAME_PATTERN)]
MAX_EVENT_DATA_CHARS = 64_000


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        """Every string, number and free-form value, at any depth, can be stored as it is."""
        return check_storable(value)


class HeartbeatIn(_Input):
    id: ClientId | None = None
    """Client-chosen id; a retried heartbeat with the same id is recorded once."""
    status: ReportedStatus = ReportedStatus.IDLE
    context_tokens: Tokens | None = None
    """Tokens in the latest prompt (the fuel gauge), not cumulative usage."""
    context_window: StrictInt | None = Field(None, ge=1_000, le=100_000_000)
    """Defaults to the agent's window in the fleet file."""
    current_task: RowId | None = None
    note: str | None = Field(None, max_length=2_000)
    ack_messages_through: Seq | None = None
    """Messages up to this id have been handled and are not delivered again."""
    ack_incidents_through: Count | None = None
    """Confirmed incidents up to this id have been seen and are not delivered again."""
    outbox_pending: Count | None = None
    """Reports waiting in the outbox of the agent's runner (``mcos run``), for ``/metrics``."""


class BatchHeartbeat(HeartbeatIn):
    id: ClientId
    agent: AgentName | None = None
    """Defaults to the agent of the token; required with an operator token."""


class TaskCreate(_Input):
    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=20_000)
    kind: str | None = Field(None, pattern=NAME_PATTERN)
    """Kind of work, matched against the value ledger (``email-triage``, ...)."""
    priority: Priority = Priority.NORMAL
    assignee: AgentName | None = None
    parent_id: RowId | None = None
    depends_on: list[RowId] = Field(default_factory=list, max_length=50)
    due_at: Instant | None = None


class TaskUpdate(_Input):
    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, max_length=20_000)
    kind: str | None = Field(None, pattern=NAME_PATTERN)
    priority: Priority | None = None
    due_at: Instant | None = None


class TaskMove(_Input):
    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    status: TaskStatus
    reason: str | None = Field(None, max_length=2_000)


class TaskAssign(_Input):
    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    assignee: AgentName | None
    """``null`` unassigns (only from ``assigned``, which sends the card back to the inbox)."""


class TaskComment(_Input):
    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    body: str = Field(min_length=1, max_length=20_000)


class MessageIn(_Input):
    id: ClientId | None = None
    to: AgentName | None = None
    """A direct message to one agent."""
    channel: str | None = Field(None, pattern=NAME_PATTERN)
    fleet: Flag = False
    """To every agent: needs the ``broadcast`` capability."""
    kind: MessageKind = MessageKind.CHAT
    body: str = Field(min_length=1, max_length=20_000)
    task_id: RowId | None = None

    @model_validator(mode="after")
    def _one_audience(self) -> MessageIn:
        chosen = [x for x in (self.to is not None, self.channel is not None, self.fleet) if x]
        if len(chosen) != 1:
            raise ValueError("give exactly one of 'to', 'channel' or 'fleet': true")
        return self

    @property
    def scope(self) -> str:
        return "agent" if self.to else "channel" if self.channel else "fleet"


class BatchMessage(MessageIn):
    id: ClientId


class EventIn(_Input):
    id: ClientId | None = None
    type: str = Field(min_length=3, max_length=64)
    """Dotted, lowercase, outside the control plane's own namespaces: ``runtime.tool_called``."""
    subject: str | None = Field(None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


class BatchEvent(EventIn):
    id: ClientId


class BatchIn(_Input):
    heartbeats: list[BatchHeartbeat] = Field(default_factory=list, max_length=1_000)
    messages: list[BatchMessage] = Field(default_factory=list, max_length=1_000)
    events: list[BatchEvent] = Field(default_factory=list, max_length=10_000)


class ReportItem(_Input):
    """One report a runtime queued, as it would have been sent on its own."""

    agent: AgentName | None = None
    """The agent it is for: required with a runner token (as ``X-MCOS-Agent`` would be), and
    with an agent's token, that agent or nothing."""
    method: Literal["POST"] = "POST"
    path: str = Field(min_length=1, max_length=300)
    """The route it would have gone to, such as ``/api/v1/tasks/7/move``."""
    body: dict[str, Any]


class ReportsIn(_Input):
    """An outbox's waiting reports, oldest first: each agent's are applied in this order."""

    reports: list[ReportItem] = Field(min_length=1, max_length=500)


class ActionRequest(_Input):
    """Asked before acting: the exact action, as it would be done."""

    kind: str = Field(min_length=1, max_length=64)
    """``shell.exec``, ``file.write``, ``http.fetch``, ``email.send``, ``payment.send``, ..."""
    command: str | None = Field(None, max_length=10_000)
    paths: list[str] = Field(default_factory=list, max_length=100)
    host: str | None = Field(None, max_length=255)
    recipient: str | None = Field(None, max_length=320)
    amount_usd: Amount | None = None
    files_touched: Count | None = None
    addresses: list[str] = Field(default_factory=list, max_length=32)
    """For ``http.fetch``: every IP address the host resolved to (standard notation)."""
    port: StrictInt | None = Field(None, ge=1, le=65_535)
    """For ``http.fetch``: the port connected to."""
    target: str | None = Field(None, min_length=1, max_length=1_000)
    """For ``deploy.run``: the deploy target's name; for ``git.commit``: the repository path;
    for ``service.restart``/``service.rollback``: the service's name."""
    draft: RowId | None = None
    """For ``email.send``: the draft sent (``POST /api/v1/mail/drafts``)."""
    subject: str | None = Field(None, max_length=998)
    """For ``email.send``: the draft's subject."""
    body_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    """For ``email.send``: the draft's hash, as ``GET /api/v1/mail/drafts/{id}`` gives it."""
    recipients: list[str] = Field(default_factory=list, max_length=100)
    """For ``email.send``: every recipient, To and Cc."""
    reason: str = Field("", max_length=2_000)
    """Why the agent wants it; shown to approvers."""
    agent: AgentName | None = None
    """Operators only: the agent asking (an agent token always asks for itself)."""
    approval_id: RowId | None = None
    """Carry out an action an approval allowed: it must match the approved action exactly."""
    acted: Flag = False
    """Reported, not asked: the runtime decided ``allow`` by the same policy engine from the
    same fleet and acted. The control plane decides again and records it; if its own answer is
    not ``allow`` (the fleet changed meanwhile), that is recorded and answered 409
    ``policy_changed``. Never for ``email.send`` or with ``approval_id``."""
    id: ClientId | None = None
    """The runtime's client id (a reported action): one sent again is recorded once."""

    @model_validator(mode="after")
    def _acted_alone(self) -> ActionRequest:
        if self.acted and self.approval_id is not None:
            raise ValueError(
                "'acted' reports an action the runtime decided alone; one carried out under "
                "an approval ('approval_id') is asked, not reported"
            )
        return self

    @field_validator("addresses")
    @classmethod
    def _ip_literals(cls, value: list[str]) -> list[str]:
        for address in value:
            try:
                ip_address(address)
            except ValueError:
                raise ValueError(
                    f"{address!r} is not an IP address; give the addresses the host resolved "
                    "to, such as '93.184.216.34' or '2606:2800:220:1::'"
                ) from None
        return value


class CapabilityRestore(_Input):
    """Ask an operator to restore a capability for a while."""

    id: ClientId | None = None
    """The runtime's client id: a request sent again after a lost answer is recorded once."""
    agent: AgentName | None = None
    """Defaults to the agent of the token; required with an operator token."""
    capability: str = Field(min_length=1, max_length=64)
    minutes: StrictFloat = Field(60, gt=0, le=24 * 60)
    """How long the restoration lasts once approved (at most a day); it lapses by itself."""
    reason: str = Field(min_length=1, max_length=2_000)


class ApprovalDecision(_Input):
    comment: str = Field("", max_length=2_000)


class IncidentIn(_Input):
    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    severity: Severity
    title: str = Field(min_length=1, max_length=300)
    body: str = Field("", max_length=20_000)
    agent: AgentName | None = None
    """Operators only: the agent reporting (an agent token always reports for itself)."""


class MemoryFlush(_Input):
    """What matters, written before the context is compacted (``memory/YYYY-MM-DD.md``)."""

    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    content: str = Field(min_length=1, max_length=100_000)
    day: Day | None = None
    """The note's day; defaults to today in the fleet's time zone."""


class Compaction(_Input):
    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    tokens_before: Tokens
    tokens_after: Tokens


class Cooldown(_Input):
    """A provider answered 429: this agent's one credential waits until the retry-after."""

    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    retry_after_seconds: StrictFloat = Field(gt=0, le=86_400)
    credential: str | None = Field(None, max_length=128)
    """The credential's environment-variable name; it must be the agent's own."""


class UsageIn(_Input):
    """One LLM call, reported after it returns."""

    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    model: str | None = Field(None, max_length=200)
    """Defaults to the agent's model in the fleet file."""
    input_tokens: Tokens
    """Prompt tokens neither read from nor written to the prompt cache."""
    output_tokens: Tokens
    cache_read_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    latency_ms: Count | None = None
    task_id: RowId | None = None


class SetAsideIn(_Input):
    """A report the control plane refused for good (a 4xx, or the same 5xx again and again),
    set aside by the agent's runtime so it no longer blocks the reports after it."""

    id: ClientId | None = None
    """Client-chosen id; a retried report with the same id is recorded once."""
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(min_length=1, max_length=500)
    status: StrictInt = Field(ge=100, le=599)
    error: str = Field(min_length=1, max_length=2_000)


class BudgetCheck(_Input):
    """Asked before each call: may the agent spend about this much?"""

    estimated_tokens: Tokens = 0
    estimated_usd: Amount = 0


class BudgetChange(_Input):
    """New limits (operators only); unset keeps the current one, null removes the limit."""

    daily_usd: Amount | None = None
    monthly_usd: Amount | None = None
    daily_tokens: TokenLimit | None = None
    monthly_tokens: TokenLimit | None = None
    reason: str = Field(min_length=1, max_length=2_000)


class Nudge(_Input):
    reason: str = Field("", max_length=2_000)
    """Shown in the event log: why the agent was woken."""


class TokenCreate(_Input):
    label: str = Field("", max_length=100)


class TokenIssue(_Input):
    """A new token (operators only): an operator's, a runner's (one machine), or an agent's."""

    kind: Literal["operator", "runner", "agent"]
    label: str = Field("", max_length=100)
    """Who or what holds it ("mac-mini runner"); shown in lists and the event log. For an
    operator token: the name of an operator (``mcos operators add``), "operator" if empty."""
    machine: str | None = Field(None, pattern=NAME_PATTERN)
    """For a runner token: the machine whose agents it acts for."""
    agent: AgentName | None = None
    """For an agent token: the agent it acts as."""
    expires_in_days: StrictInt | None = Field(None, ge=1, le=3_650)
    """Lifetime; unset: 90 days for agent and runner tokens, none for operators (null in the
    body also means none)."""


class OperatorAdd(_Input):
    """A new person (owners only): their name, as events will name them, and their role."""

    name: str = Field(pattern=OPERATOR_NAME_PATTERN)
    """Lowercase, no spaces: ``alice`` appears in the log as ``operator:alice``."""
    role: OperatorRole


class OperatorRoleChange(_Input):
    role: OperatorRole


class TokenRotate(_Input):
    grace_minutes: StrictInt = Field(0, ge=0, le=7 * 24 * 60)
    """How long the old token keeps working, to put the new one in place; 0: it stops now."""


def isoformat(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class SessionIn(_Input):
    """Dashboard sign-in: an operator token (agent tokens cannot use the dashboard)."""

    token: str = Field(min_length=1, max_length=500)


class CommitteeOpen(_Input):
    """Put a decision to named agents (and the operator, with ``human``)."""

    title: str = Field(min_length=1, max_length=300)
    question: str = Field(min_length=1, max_length=20_000)
    members: list[AgentName] = Field(min_length=1, max_length=50)
    """Agents of the fleet, each giving one position."""
    human: Flag = False
    """The operator votes too, as ``human``."""
    quorum: Count | None = None
    """Positions for or against (abstentions do not count) needed; default: a majority of voters."""
    rule: Literal["majority", "unanimity", "veto"] = "majority"
    approval_id: RowId | None = None
    """A pending approval this committee gates: it cannot be approved until the committee is."""
    task_id: RowId | None = None


class PositionIn(_Input):
    """One voter's position, given once and final."""

    position: Literal["for", "against", "abstain", "veto"]
    """``veto`` only on a committee whose rule is ``veto``."""
    reasons: str = Field(min_length=1, max_length=20_000)
    member: str | None = Field(None, pattern=NAME_PATTERN)
    """Defaults to the token's agent, or ``human`` for an operator; naming another is refused."""


class RouteRequest(_Input):
    """An incoming request for the orchestrator to route (``POST /api/v1/route``)."""

    id: ClientId | None = None
    """Client-chosen id for the task it creates; a retry with the same id is refused."""
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=20_000)
    kind: str | None = Field(None, pattern=NAME_PATTERN)
    priority: Priority = Priority.NORMAL
    capabilities: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")]] = (
        Field(default_factory=list, max_length=20)
    )
    """Capabilities the work needs, on top of the matching rule's."""
    dry_run: Flag = False
    """Only decide and explain: no task is created (the decision is still logged)."""


class Suspension(_Input):
    """Why an agent is suspended or resumed; shown in the event log and on its card."""

    reason: str = Field(min_length=1, max_length=2_000)


ServiceStateName = Literal["up", "down", "unknown"]


class ServiceStateIn(_Input):
    """A watched service changed state, as its machine's runner saw it."""

    id: ClientId | None = None
    state: ServiceStateName
    before: ServiceStateName = "unknown"
    at: Instant
    """When the probe that made the change ran (the runner's clock)."""
    failures: StrictInt = Field(0, ge=0, le=1_000_000)
    """Failed probes in a row."""
    detail: str = Field("", max_length=2_000)
    """What the probe saw (``HTTP 502 from ...``, ``connection refused``)."""
    diagnosis: str = Field("", max_length=70_000)
    """Going down: the output of the runbook's ``diagnose`` commands."""


class RemediationIn(_Input):
    """A remedy the runner carried out (after the control plane allowed it)."""

    id: ClientId | None = None
    action: Literal["restart", "rollback"]
    by: Literal["auto", "agent", "operator"]
    command: str = Field(min_length=1, max_length=2_000)
    exit_status: StrictInt | None = Field(None, ge=-255, le=255)
    """``None``: stopped at its time limit."""
    output: str = Field("", max_length=10_000)
    at: Instant
    seconds: StrictFloat = Field(ge=0, le=86_400)
    approval_id: RowId | None = None
