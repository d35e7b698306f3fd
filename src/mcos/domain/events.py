"""Event types: every change is one of these, appended to the log with a sequence number."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

AGENT_SYNCED = "agent.synced"
AGENT_REMOVED = "agent.removed"
AGENT_HEARTBEAT = "agent.heartbeat"
AGENT_LIVENESS_CHANGED = "agent.liveness_changed"
AGENT_NUDGED = "agent.nudged"
AGENT_REPORT_SET_ASIDE = "agent.report_set_aside"
AGENT_TOOL_CALLED = "agent.tool_called"
"""A tool call an agent reported as an OpenTelemetry span (``execute_tool``)."""
TOKEN_ISSUED = "token.issued"
TOKEN_REVOKED = "token.revoked"
TOKEN_ROTATED = "token.rotated"
OPERATOR_ADDED = "operator.added"
OPERATOR_ROLE_CHANGED = "operator.role_changed"
OPERATOR_REMOVED = "operator.removed"
TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_ASSIGNED = "task.assigned"
TASK_MOVED = "task.moved"
TASK_COMMENTED = "task.commented"
MESSAGE_SENT = "message.sent"
LEGAL_DRAFTED = "legal.drafted"
LEGAL_DRAFT_REFUSED = "legal.draft_refused"

# Namespaces only the control plane writes; a client posting an event cannot forge one.
RESERVED_NAMESPACES = frozenset(
    {
        "agent",
        "token",
        "task",
        "message",
        "fleet",
        "policy",
        "incident",
        "approval",
        "grant",
        "usage",
        "budget",
        "memory",
        "operator",
        "stream",
        "supervision",
        "schedule",
        "committee",
        "routing",
        "notify",
        "mail",
        "artifact",
        "service",
        "legal",
        "events",
    }
)
CLIENT_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+){1,4}$")


DEMO_SCENE = "demo.scene"
"""``mcos demo``'s narration: a client event posted with the operator's token, each what the day's
scene did, read back from the log. The dashboard shows the latest under its top bar."""

OPERATOR_NAMESPACES = frozenset({"demo"})
"""Namespaces only operators post: ``demo.scene`` is narration the dashboard shows every operator,
so no agent may put words there."""


def client_type_problem(event_type: str, *, operator: bool = False) -> str | None:
    """Why a client (an operator, or else an agent) may not post this type, or ``None``."""
    if not CLIENT_EVENT_TYPE.match(event_type):
        return f"{event_type!r} is not a dotted lowercase event type such as 'runtime.tool_called'"
    namespace = event_type.split(".", 1)[0]
    if namespace in RESERVED_NAMESPACES:
        return f"the {namespace!r} namespace is written by the control plane only"
    if namespace in OPERATOR_NAMESPACES and not operator:
        return f"the {namespace!r} namespace is posted by operators only"
    return None


@dataclass(frozen=True)
class Event:
    """One committed entry of the log."""

    seq: int
    ts: datetime
    type: str
    actor: str
    """``agent:NAME``, ``operator:LABEL`` or ``system``."""
    subject: str | None
    """What changed, such as ``agent:donna`` or ``task:42``."""
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts.isoformat(),
            "type": self.type,
            "actor": self.actor,
            "subject": self.subject,
            "data": self.data,
        }


POLICY_DECIDED = "policy.decided"
APPROVAL_REQUESTED = "approval.requested"
APPROVAL_DECIDED = "approval.decided"
APPROVAL_APPROVED = "approval.approved"
APPROVAL_DENIED = "approval.denied"
APPROVAL_EXPIRED = "approval.expired"
APPROVAL_APPLIED = "approval.applied"
GRANT_CREATED = "grant.created"
INCIDENT_RAISED = "incident.raised"
INCIDENT_CONFIRMED = "incident.confirmed"
INCIDENT_DISMISSED = "incident.dismissed"

VISIBLE_TO = "visible_to"
"""In an event's data: the only agents that may see it (operators see everything)."""


def visible_to_agent(data: dict[str, Any], agent: str) -> bool:
    audience = data.get(VISIBLE_TO)
    return audience is None or agent in audience


PARTY_KEYS = ("agent", "assignee", "to", "from", "reporter", "as_agent", "creator", "sender")
"""Keys of an event's data that name an agent it concerns (a name or an ``agent:NAME`` actor)."""
EVERYONES = frozenset({"incident"})
"""Namespaces whose events reach every agent unless ``visible_to`` narrows them (an incident
confirmed for the whole fleet)."""


def concerns(
    event_type: str,
    actor: str,
    subject: str | None,
    data: dict[str, Any],
    agents: frozenset[str],
    channels: frozenset[str],
) -> bool:
    """Whether an agent (or a runner, for its machine's ``agents``) is party to an event.

    It is when it is named: as the actor, the subject, a party key of the data, a committee
    member; when a message reaches it (to it, to one of its ``channels``, to the fleet); or when
    the event is of a namespace that reaches everyone. ``visible_to``, where present, is the
    whole audience.
    """
    audience = data.get(VISIBLE_TO)
    if audience is not None:
        return isinstance(audience, list) and not agents.isdisjoint(audience)
    for named in (actor, subject):
        if named is not None and named.startswith("agent:") and named[6:] in agents:
            return True
    for key in PARTY_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.removeprefix("agent:") in agents:
            return True
    members = data.get("members")
    if isinstance(members, list) and any(m in agents for m in members if isinstance(m, str)):
        return True
    if event_type == MESSAGE_SENT:
        return data.get("scope") == "fleet" or data.get("channel") in channels
    return event_type.split(".", 1)[0] in EVERYONES


MEMORY_FLUSHED = "memory.flushed"
MEMORY_COMPACTED = "memory.compacted"
MEMORY_COMPACTION_REFUSED = "memory.compaction_refused"
AGENT_COOLING_DOWN = "agent.cooling_down"
USAGE_RECORDED = "usage.recorded"
BUDGET_EXCEEDED = "budget.exceeded"
BUDGET_REFUSED = "budget.refused"
BUDGET_CHANGED = "budget.changed"
COMMITTEE_OPENED = "committee.opened"
COMMITTEE_POSITION_GIVEN = "committee.position_given"
COMMITTEE_DECIDED = "committee.decided"
ROUTING_DECIDED = "routing.decided"
AGENT_SUSPENDED = "agent.suspended"
AGENT_RESUMED = "agent.resumed"
SUPERVISION_NUDGED = "supervision.nudged"
SUPERVISION_REASSIGNED = "supervision.reassigned"
SUPERVISION_ESCALATED = "supervision.escalated"
SUPERVISION_RECOVERED = "supervision.recovered"
SCHEDULE_FIRED = "schedule.fired"
SCHEDULE_MISSED = "schedule.missed"
SCHEDULE_NOT_STARTED = "schedule.not_started"
MAIL_SYNCED = "mail.synced"
MAIL_SYNC_FAILED = "mail.sync_failed"
MAIL_TRIAGED = "mail.triaged"
MAIL_FLAGGED = "mail.flagged"
MAIL_DIGEST_WRITTEN = "mail.digest_written"
MAIL_DRAFTED = "mail.drafted"
MAIL_SENT = "mail.sent"
MAIL_SEND_FAILED = "mail.send_failed"
NOTIFY_SENT = "notify.sent"
NOTIFY_FAILED = "notify.failed"
NOTIFY_RECOVERED = "notify.recovered"
ARTIFACT_ADDED = "artifact.added"
ARTIFACT_OPENED = "artifact.opened"
ARTIFACT_ACCEPTED = "artifact.accepted"
SERVICE_DOWN = "service.down"
SERVICE_UP = "service.up"
SERVICE_CHANGED = "service.changed"
"""A watched service became ``unknown`` (its probe cannot tell, such as systemd absent)."""
SERVICE_REMEDIATED = "service.remediated"
EVENTS_ARCHIVED = "events.archived"
"""Old events up to ``through_seq`` were moved to an archive file (``mcos db archive``)."""
