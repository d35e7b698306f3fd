"""What the control plane answers an agent: the typed results of ``mcos.client``'s methods.

Each model is the body a route really returns today (checked against a running control plane in
``tests/client/test_models.py``). They allow extra keys: a newer server may add a field,
and an older client must still read the answer. Keys the server always sends are required; keys
only some routes send (a task's ``history`` comes with ``GET /tasks/{id}``, not with the list)
default to empty. The runtime's hot paths read raw JSON (``AsyncClient.request``) and never pay
for these models.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mcos.domain.kanban import TaskStatus

Outcome = Literal["allow", "ask", "deny"]
"""What an agent may do with an action it asked about: do it, wait for a person, or give up."""


class Answer(BaseModel):
    """A body the server answered; unknown keys are kept, not refused."""

    model_config = ConfigDict(extra="allow")


class Token(Answer):
    """A token as listed: who holds it, for what, until when; never the secret."""

    id: int
    kind: Literal["operator", "runner", "agent"]
    scope: str
    """``operator``, ``machine:NAME`` or ``agent:NAME``."""
    agent: str | None
    machine: str | None
    label: str
    prefix: str
    """The token's first characters, to recognise it in lists."""
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    replaced_by: int | None = None
    status: str
    """``active``, ``expired``, ``revoked`` (or ``grace`` after a rotation)."""


class Principal(Token):
    """The token a request carries (``GET /api/v1/tokens/current``), never the secret itself."""

    acting_as: str
    """The actor the request is recorded as: ``agent:flow``, ``operator:alice``."""


class Event(Answer):
    """One entry of the append-only event log."""

    seq: int
    ts: datetime
    type: str
    actor: str
    subject: str | None
    data: dict[str, Any]


class Task(Answer):
    """A Kanban card; ``GET /tasks/{id}`` adds its description, dependencies, children and
    history, the list leaves them out."""

    id: int
    title: str
    kind: str | None
    status: TaskStatus
    priority: str
    """``low``, ``normal``, ``high`` or ``urgent``."""
    assignee: str | None
    creator: str
    parent_id: int | None
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    depends_on: list[int] = []
    children: list[int] = []
    history: list[Event] = []


class Comment(Answer):
    """A comment recorded on a task (it lives in the task's history)."""

    task: int
    seq: int
    """The comment's event sequence number."""
    body: str
    actor: str


class Message(Answer):
    """Agent to agent, to a channel, or to the whole fleet."""

    id: int
    ts: datetime
    sender: str
    scope: Literal["agent", "channel", "fleet"]
    to: str | None
    channel: str | None
    kind: Literal["directive", "report", "question", "chat"]
    body: str
    task_id: int | None


class Incident(Answer):
    """An incident in the escalation queue; it reaches others only once ``confirmed``."""

    id: int
    ts: datetime
    reporter: str
    severity: Literal["P0", "P1", "P2", "P3"]
    title: str
    body: str
    status: Literal["unconfirmed", "confirmed", "dismissed", "logged"]
    reach: str
    approval_id: int | None
    """The confirmation waiting, for an unconfirmed incident."""
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None


class Gauge(Answer):
    """The context gauge: tokens of the latest prompt against the window and the flush line."""

    tokens: int
    window: int
    flush_line: int
    fraction: float
    past_flush_line: bool


class Grant(Answer):
    """A capability restored by an approval, until ``expires_at``."""

    capability: str
    expires_at: datetime


class HeartbeatAnswer(Answer):
    """The answer to a heartbeat: the work waiting for the agent."""

    agent: str
    seq: int
    liveness: str | None = None
    gauge: Gauge | None = None
    tasks: list[Task] = []
    """Open tasks assigned to the agent, most urgent first."""
    directives: list[Message] = []
    messages: list[Message] = []
    message_cursor: int = 0
    """The last message id acknowledged; acknowledge more with ``ack_messages_through`` (the
    highest id handled) in the next heartbeat."""
    incidents: list[Incident] = []
    """Confirmed incidents that reach the agent."""
    confirmations: list[Incident] = []
    """Unconfirmed incidents waiting for this agent's confirmation."""
    incident_cursor: int = 0
    """The last incident id acknowledged (``ack_incidents_through``)."""
    grants: list[Grant] = []
    policy_version: str | None = None
    """A digest of what the policy engine reads for this agent from the control plane's fleet
    (``mcos.policy.local``): a runtime whose own fleet gives the same may decide an action that
    is ``allow`` from the fleet file alone, act, and report it (``acted``)."""


class Decision(Answer):
    """The answer to "may I do this?" (``POST /api/v1/actions``).

    The server answers ``allow`` (200) or ``needs_approval`` (202) in ``decision``, and a refusal
    as a 403 ``policy_denied`` error, which the client turns into ``decision="deny"``.
    """

    decision: Literal["allow", "needs_approval", "deny"]
    reason: str
    approval_id: int | None = None
    """The approval to wait for (``needs_approval``), or the one carried out (``allow``)."""
    approvers: list[str] = []
    """Who must approve: roles, or ``human``."""

    @property
    def outcome(self) -> Outcome:
        """``allow``, ``ask`` (a person must approve first) or ``deny``."""
        return "ask" if self.decision == "needs_approval" else self.decision

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"


class ApprovalVote(Answer):
    """One party's decision on an approval."""

    party: str
    decider: str
    decision: Literal["approve", "deny"]
    comment: str
    ts: datetime


class Approval(Answer):
    """A frozen copy of an exact action, the approvers it needs and their decisions."""

    id: int
    kind: str
    """``action``, ``incident``, ``capability.restore``, ..."""
    agent: str | None
    requested_by: str
    subject: dict[str, Any]
    reason: str
    required: list[str]
    waiting_for: list[str]
    status: Literal["pending", "approved", "denied", "expired", "applied"]
    created_at: datetime
    expires_at: datetime
    seconds_left: float | None = None
    decided_at: datetime | None = None
    applied_at: datetime | None = None
    outcome: dict[str, Any] | None = None
    decisions: list[ApprovalVote] = []
    mail: dict[str, Any] | None = None
    """For an ``email.send`` approval: the draft, for the approver to read."""
    repeated: bool = False
    """The same request was already waiting: this is that approval."""

    @property
    def settled(self) -> bool:
        """No longer waiting: approved, denied, expired or applied."""
        return self.status != "pending"


class Spent(Answer):
    daily_usd: float
    daily_tokens: int
    monthly_usd: float
    monthly_tokens: int


class Budget(Answer):
    """Limits; ``None`` is no limit."""

    daily_usd: float | None = None
    monthly_usd: float | None = None
    daily_tokens: int | None = None
    monthly_tokens: int | None = None


class Usage(Answer):
    """One LLM call as recorded, priced from the price table, with the agent's spend so far."""

    agent: str
    model: str
    credential: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    """``None`` when the model has no price in the table."""
    latency_ms: int | None
    task_id: int | None
    spent: Spent
    budget: Budget
    paused: bool
    """The call took the agent over budget: it is paused until an operator resumes it."""


class MemoryNote(Answer):
    """A memory note: the flush's receipt carries ``chars``, a read note its ``content``."""

    id: int
    day: date
    ts: datetime
    agent: str | None = None
    chars: int | None = None
    content: str | None = None


class TaskList(Answer):
    tasks: list[Task]


class MessageList(Answer):
    messages: list[Message]


class IncidentList(Answer):
    incidents: list[Incident]


class ApprovalList(Answer):
    approvals: list[Approval]


class EventList(Answer):
    events: list[Event]


class MemoryNotes(Answer):
    agent: str
    notes: list[MemoryNote]
