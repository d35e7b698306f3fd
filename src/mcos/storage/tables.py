"""Every table, in SQLAlchemy Core. Migrations in ``migrations/`` must match this exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")
# SQLite only makes a rowid alias of INTEGER PRIMARY KEY, not BIGINT.
SeqInt = BigInteger().with_variant(Integer(), "sqlite")

agents = Table(
    "agents",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("title", String(200), nullable=False, default=""),
    Column("machine", String(32), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("model", String(200), nullable=False),
    Column("credential_env", String(128), nullable=False),
    Column("capabilities", JSONDoc, nullable=False),
    Column("channels", JSONDoc, nullable=False),
    Column("supervisor", String(32), nullable=False),
    Column("context_window", Integer, nullable=False),
    Column("flush_line", Integer, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("reported_status", String(16)),
    Column("last_heartbeat_at", UTCDateTime()),
    Column("context_tokens", Integer),
    Column("current_task_id", Integer),
    Column("note", Text),
    Column("liveness", String(16), nullable=False, default="offline"),
    Column("message_cursor", SeqInt, nullable=False, default=0),
    Column("incident_cursor", Integer, nullable=False, default=0, server_default="0"),
    Column("last_flush_at", UTCDateTime()),
    Column("last_compaction_at", UTCDateTime()),
    Column("compactions", Integer, nullable=False, default=0, server_default="0"),
    Column("cooldown_until", UTCDateTime()),
    Column("paused", Boolean, nullable=False, default=False, server_default="0"),
    Column("paused_reason", Text),
    Column("budget_override", JSONDoc),
    Column("heartbeats", SeqInt, nullable=False, default=0),
    Column("set_aside_reports", Integer, nullable=False, default=0, server_default="0"),
    Column("last_set_aside", JSONDoc),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(24), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("agent", String(32), ForeignKey("agents.name")),
    Column("machine", String(32)),
    Column("label", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    Column("revoked_by", String(120)),
    Column("replaced_by", Integer),
)
"""Bearer tokens, stored as hashes: ``agent`` (acts as one agent), ``runner`` (acts as the agents
of one ``machine``) and ``operator`` (a person)."""

operators = Table(
    "operators",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(120), nullable=False),
)
"""The people who hold operator tokens, each with a role (``owner``, ``approver``, ``viewer``);
an operator token's ``label`` is its person's ``name``."""

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_hash", String(64), nullable=False, unique=True),
    Column("token_id", Integer, ForeignKey("tokens.id"), nullable=False),
    Column("operator", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime()),
)
"""Dashboard sign-ins: the cookie holds the session's secret, never the operator token."""

tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("kind", String(32)),
    Column("status", String(16), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("assignee", String(32), ForeignKey("agents.name")),
    Column("creator", String(120), nullable=False),
    Column("parent_id", Integer, ForeignKey("tasks.id")),
    Column("due_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "assignee", "status"),
    Index(None, "status"),
)

task_dependencies = Table(
    "task_dependencies",
    metadata,
    Column("task_id", Integer, ForeignKey("tasks.id"), primary_key=True),
    Column("depends_on_id", Integer, ForeignKey("tasks.id"), primary_key=True),
)

messages = Table(
    "messages",
    metadata,
    Column("id", SeqInt, primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("sender", String(120), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("recipient", String(32)),
    Column("channel", String(32)),
    Column("kind", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("task_id", Integer, ForeignKey("tasks.id")),
    Index(None, "recipient", "id"),
    Index(None, "channel", "id"),
)

events = Table(
    "events",
    metadata,
    Column("seq", SeqInt, primary_key=True, autoincrement=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("type", String(64), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("subject", String(64)),
    Column("data", JSONDoc, nullable=False),
    Column("client_id", String(100)),
    UniqueConstraint("actor", "client_id"),
    Index(None, "subject", "seq"),
    Index(None, "type", "seq"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("requested_by", String(120), nullable=False),
    Column("agent", String(32), ForeignKey("agents.name")),
    Column("kind", String(32), nullable=False),
    Column("subject", JSONDoc, nullable=False),
    Column("reason", Text, nullable=False),
    Column("required", JSONDoc, nullable=False),
    Column("status", String(16), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime()),
    Column("applied_at", UTCDateTime()),
    Column("outcome", JSONDoc),
    Index(None, "status", "id"),
)

approval_decisions = Table(
    "approval_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("approval_id", Integer, ForeignKey("approvals.id"), nullable=False),
    Column("party", String(32), nullable=False),
    Column("decider", String(120), nullable=False),
    Column("decision", String(8), nullable=False),
    Column("comment", Text, nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    UniqueConstraint("approval_id", "party"),
)

grants = Table(
    "grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(32), ForeignKey("agents.name"), nullable=False),
    Column("capability", String(64), nullable=False),
    Column("approval_id", Integer, ForeignKey("approvals.id"), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index(None, "agent", "expires_at"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("reporter", String(32), ForeignKey("agents.name"), nullable=False),
    Column("severity", String(2), nullable=False),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reach", String(16), nullable=False),
    Column("approval_id", Integer, ForeignKey("approvals.id")),
    Column("resolved_at", UTCDateTime()),
    Column("resolved_by", String(120)),
    Column("resolution", Text),
    Index(None, "status", "id"),
)

memory_notes = Table(
    "memory_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(32), ForeignKey("agents.name"), nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("day", String(10), nullable=False),
    Column("content", Text, nullable=False),
    Index(None, "agent", "day", "id"),
)

usage = Table(
    "usage",
    metadata,
    Column("id", SeqInt, primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("agent", String(32), ForeignKey("agents.name"), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("model", String(200), nullable=False),
    Column("credential", String(128), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cache_read_tokens", Integer, nullable=False),
    Column("cache_write_tokens", Integer, nullable=False),
    Column("cost_usd", Numeric(14, 6), nullable=False),
    Column("latency_ms", Integer),
    Column("task_id", Integer),
    Index(None, "agent", "ts"),
)

usage_totals = Table(
    "usage_totals",
    metadata,
    # What the usage rows of one agent and model add up to in one UTC bucket (a quarter-hour,
    # an hour, a day), kept in the transaction that writes each row: see services/usage_totals.py.
    Column("agent", String(32), primary_key=True),
    Column("grain", String(8), primary_key=True),
    Column("starts", UTCDateTime(), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("calls", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cache_read_tokens", BigInteger, nullable=False),
    Column("cache_write_tokens", BigInteger, nullable=False),
    Column("cost_microusd", BigInteger, nullable=False),
    Index(None, "grain", "starts"),
)

committees = Table(
    "committees",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("opened_by", String(120), nullable=False),
    Column("title", String(300), nullable=False),
    Column("question", Text, nullable=False),
    Column("members", JSONDoc, nullable=False),
    Column("human", Boolean, nullable=False, default=False),
    Column("quorum", Integer, nullable=False),
    Column("rule", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(16)),
    Column("explanation", Text),
    Column("minutes", Text),
    Column("decided_at", UTCDateTime()),
    Column("approval_id", Integer, ForeignKey("approvals.id")),
    Column("task_id", Integer, ForeignKey("tasks.id")),
    Index(None, "status", "id"),
)

committee_positions = Table(
    "committee_positions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("committee_id", Integer, ForeignKey("committees.id"), nullable=False),
    Column("member", String(32), nullable=False),
    Column("position", String(8), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("given_by", String(120)),
    UniqueConstraint("committee_id", "member"),
)
"""``given_by``: who gave it (``operator:alice`` for the ``human`` vote); none before 0012."""

schedules = Table(
    "schedules",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("cursor_at", UTCDateTime(), nullable=False),
    Column("missed", Integer, nullable=False, default=0),
)
"""Per schedule of the fleet file: due times up to ``cursor_at`` were fired or reported."""

schedule_runs = Table(
    "schedule_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule", String(32), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("fired_at", UTCDateTime(), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", JSONDoc, nullable=False),
    Column("task_id", Integer, ForeignKey("tasks.id")),
    Column("start_by", UTCDateTime()),
    Column("start_checked_at", UTCDateTime()),
    Column("not_started", Boolean, nullable=False, default=False),
    # Several replicas may tick at once: a due time is fired by one of them only.
    UniqueConstraint("schedule", "due_at"),
    Index(None, "start_checked_at", "start_by"),
)

supervision_episodes = Table(
    "supervision_episodes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(32), ForeignKey("agents.name"), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("liveness", String(16), nullable=False),
    Column("nudges", Integer, nullable=False, default=0),
    Column("reassigned", Boolean, nullable=False, default=False),
    Column("escalated", Boolean, nullable=False, default=False),
    Column("last_step_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    Column("detail", JSONDoc, nullable=False),
    Index(None, "agent", "ended_at"),
)

# -- mail ------------------------------------------------------------------------------------

mail_accounts = Table(
    "mail_accounts",
    metadata,
    Column("name", String(32), primary_key=True),
    # Where the next sync starts: UIDVALIDITY and last UID (IMAP), the delta link (Graph).
    Column("cursor", JSONDoc),
    Column("synced_at", UTCDateTime()),
    Column("messages", Integer, nullable=False, default=0),
    Column("failing_since", UTCDateTime()),
    Column("error_kind", String(16)),
    Column("error", Text),
)
"""Per ``[[mail.accounts]]`` entry: the sync cursor, kept with the messages it covers."""

mail_messages = Table(
    "mail_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("message_id", Text, nullable=False),
    Column("thread", String(255), nullable=False),
    Column("sender", String(320), nullable=False),
    Column("sender_name", String(200), nullable=False),
    Column("recipients", JSONDoc, nullable=False),
    Column("subject", Text, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("text", Text, nullable=False),
    Column("attachments", JSONDoc, nullable=False),
    Column("synced_at", UTCDateTime(), nullable=False),
    Column("category", String(16)),
    Column("topic", String(16)),
    Column("reason", Text),
    Column("classified_by", String(64)),
    Column("model_category", String(16)),
    Column("triaged_at", UTCDateTime()),
    Column("flag_message_id", Integer, ForeignKey("messages.id")),
    Column("task_id", Integer, ForeignKey("tasks.id")),
    Column("digest_id", Integer, ForeignKey("mail_digests.id")),
    # A message is stored once per account, however often it is synced.
    UniqueConstraint("account", "key"),
    Index(None, "thread"),
    Index(None, "triaged_at", "digest_id"),
)

mail_digests = Table(
    "mail_digests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(32), nullable=False),
    Column("task_id", Integer, ForeignKey("tasks.id")),
    Column("day", String(10), nullable=False),
    Column("markdown", Text, nullable=False),
    Column("counts", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "day"),
)

mail_drafts = Table(
    "mail_drafts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(32), nullable=False),
    Column("agent", String(32), nullable=False),
    Column("reply_to", Integer, ForeignKey("mail_messages.id")),
    Column("recipients", JSONDoc, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("draft_ref", String(255)),
    Column("approval_id", Integer, ForeignKey("approvals.id")),
    Column("sent_ref", String(255)),
    Column("sent_at", UTCDateTime()),
    Column("error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "status"),
)

# -- notify channels -------------------------------------------------------------------------

notify_channels = Table(
    "notify_channels",
    metadata,
    Column("name", String(32), primary_key=True),
    # Events up to this sequence number were considered for this channel.
    Column("cursor_seq", BigInteger, nullable=False, default=0),
    Column("failing_since", UTCDateTime()),
    Column("error", Text),
    Column("sent", Integer, nullable=False, default=0),
    Column("last_sent_at", UTCDateTime()),
)

notify_deliveries = Table(
    "notify_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    # One delivery per event and channel: never sent twice.
    UniqueConstraint("channel", "event_seq"),
    Index(None, "status", "next_attempt_at"),
)

# -- artifacts: files on tasks ---------------------------------------------------------------

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", Integer, ForeignKey("tasks.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("created_by", String(120), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("note", Text, nullable=False, default=""),
    # Versions count 1, 2, 3 per file name on a task; a version is never replaced.
    UniqueConstraint("task_id", "name", "version"),
    Index(None, "sha256"),
)
"""Versioned files on tasks; the content is the blob with this ``sha256`` (storage/blobs.py)."""

artifact_blobs = Table(
    "artifact_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("oid", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
)
"""The PostgreSQL large-object store's index: content hash → large object (unused with the
directory store)."""

artifact_opens = Table(
    "artifact_opens",
    metadata,
    Column("artifact_id", Integer, ForeignKey("artifacts.id"), primary_key=True),
    Column("actor", String(120), primary_key=True),
    Column("opened_at", UTCDateTime(), nullable=False),
)
"""Who first opened (previewed or downloaded) which version, and when."""

artifact_acceptances = Table(
    "artifact_acceptances",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", Integer, ForeignKey("tasks.id"), nullable=False),
    Column("artifact_id", Integer, ForeignKey("artifacts.id"), nullable=False),
    Column("accepted_by", String(120), nullable=False),
    Column("opened", Boolean, nullable=False),
    Column("accepted_at", UTCDateTime(), nullable=False),
    Index(None, "task_id"),
)
"""When a task moved to done: the newest version of each of its files, who accepted it, and
whether they had opened that version first."""
# -- watched services ------------------------------------------------------------------------

service_states = Table(
    "service_states",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("machine", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("detail", Text, nullable=False),
    # The first report of this service: its uptime is counted from here.
    Column("watched_since", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

service_outages = Table(
    "service_outages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(32), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime()),
    Column("downtime_seconds", Float),
    # auto, agent, operator or self (see mcos.domain.service_state.Recovery).
    Column("recovered_by", String(16)),
    Column("incident_id", Integer, ForeignKey("incidents.id")),
    Column("task_id", Integer, ForeignKey("tasks.id")),
    Column("detail", Text, nullable=False),
    Column("diagnosis", Text, nullable=False),
    Index(None, "service", "started_at"),
)

service_remediations = Table(
    "service_remediations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(32), nullable=False),
    Column("outage_id", Integer, ForeignKey("service_outages.id")),
    Column("action", String(16), nullable=False),
    Column("by", String(16), nullable=False),
    Column("command", Text, nullable=False),
    Column("exit_status", Integer),
    Column("output", Text, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("approval_id", Integer, ForeignKey("approvals.id")),
    Index(None, "service", "at"),
)
