"""Settings of the control plane, from ``MCOS_*`` environment variables (pydantic-settings).

The fleet file says what the fleet is; these say how this process runs. Every field is
documented: a test fails when one is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MCOS_", extra="ignore")

    fleet: Path = Field(
        Path("fleet.toml"),
        description="The fleet file (or its folder) that `mcos serve` loads.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database; overrides the fleet file's "
        "control_plane.database_url. Unset: the SQLite file mcos.db beside the fleet file.",
    )
    host: str | None = Field(
        None, description="Address to listen on; defaults to the host of control_plane.url."
    )
    port: int | None = Field(
        None,
        ge=0,
        le=65_535,
        description="Port to listen on; defaults to the port of control_plane.url.",
    )
    max_request_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1_024,
        description="Largest request body accepted; larger ones get 413 payload_too_large.",
    )
    artifact_max_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1_024,
        description="Largest file accepted as a task artifact (POST /api/v1/tasks/{id}/"
        "artifacts, and files attached by server-side tools); larger ones get 413 "
        "payload_too_large naming `content`. Separate from MCOS_MAX_REQUEST_BYTES (JSON bodies).",
    )
    artifacts_store: Literal["auto", "directory", "postgresql"] = Field(
        "auto",
        description="Where artifact content is kept, stored once per SHA-256: `directory` (files "
        "under MCOS_ARTIFACTS_DIR), `postgresql` (large objects in the control plane's own "
        "PostgreSQL database), or `auto`: large objects on PostgreSQL unless MCOS_ARTIFACTS_DIR "
        "is set, the directory otherwise.",
    )
    artifacts_dir: Path | None = Field(
        None,
        description="The folder of the directory artifact store. Unset: `artifacts/` beside the "
        "SQLite file (which is beside the fleet file by default), or beside the fleet file on "
        "PostgreSQL. Back it up with the database: a row without its file cannot be downloaded.",
    )
    stream_max_pending: int = Field(
        10_000,
        ge=10,
        description="Events buffered per live-stream subscriber before it is told to resync.",
    )
    stream_keepalive_seconds: float = Field(
        15.0, gt=0, description="Idle time after which the stream sends a keep-alive comment."
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="How long a client may take to send a request's headers, from connecting "
        "(or from the first byte of a request on a kept-alive connection). A connection that "
        "sent nothing by then is closed; a request begun is answered 408 request_timeout.",
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a request body may stall between two reads; then it is answered "
        "408 request_timeout and the connection closed. A body that keeps arriving is read.",
    )
    write_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a client may read nothing of what is sent to it (the buffers "
        "towards it stay full) before its connection is dropped: a live-stream subscriber that "
        "stopped reading goes, and resumes with Last-Event-ID.",
    )
    write_batch_max: int = Field(
        512, ge=1, description="Most writes the writer commits in one transaction."
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        description="SQLite's synchronous pragma: FULL survives power loss, NORMAL only a "
        "crash of the process.",
    )
    liveness_sweep_seconds: float = Field(
        5.0,
        gt=0,
        description="How often the server checks for agents that went silent; supervision "
        "(nudge, reassign, tell) takes its steps on the same sweep.",
    )
    fleet_poll_seconds: float = Field(
        30.0,
        gt=0,
        le=86_400,
        description="How often `mcos run --url --token` (no local fleet.toml) asks the control "
        "plane whether its fleet changed (GET /api/v1/fleet with If-None-Match); a change is "
        "applied without a restart where safe.",
    )
    schedule_tick_seconds: float = Field(
        15.0,
        gt=0,
        description="How often the scheduler looks for schedules that fell due. Cron times have "
        "minute precision, so a run starts at most this late; tests shorten it.",
    )
    notify_tick_seconds: float = Field(
        30.0,
        gt=0,
        description="How often the notify dispatcher looks for work even when no event woke it "
        "(a backstop: new events, retries and the end of quiet hours wake it on their own).",
    )
    notify_retry_base_seconds: float = Field(
        30.0,
        gt=0,
        description="The wait before a failed notification is retried; it doubles with each "
        "failed attempt up to MCOS_NOTIFY_RETRY_MAX_SECONDS.",
    )
    notify_retry_max_seconds: float = Field(
        900.0,
        gt=0,
        description="The longest wait between two attempts of one notification (the backoff's "
        "cap); a notification still failing after 24 hours is given up, visibly.",
    )
    notify_timeout_seconds: float = Field(
        20.0,
        gt=0,
        le=300,
        description="How long one send (an SMTP session, a webhook or Telegram request) may "
        "take before it counts as failed.",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+/?$",
        description="The URL operators open the dashboard at (such as https://mc.example.com "
        "behind a TLS proxy). Browser requests must come from its origin, and the session "
        "cookie is Secure when it is https. Unset: the address `mcos serve` listens on (and, on "
        "a loopback address, its other loopback names).",
    )
    tls_cert: Path | None = Field(
        None,
        description="PEM certificate chain `mcos serve` speaks TLS with (with MCOS_TLS_KEY); "
        "runners then reach it at https://. Needed, or MCOS_BEHIND_PROXY, to listen on an "
        "address other than loopback.",
    )
    tls_key: Path | None = Field(
        None, description="PEM private key of MCOS_TLS_CERT; keep it readable by its owner only."
    )
    behind_proxy: bool = Field(
        False,
        description="A reverse proxy in front terminates TLS (Caddy, nginx): `mcos serve` may "
        "then listen on a non-loopback address over plain HTTP, and MCOS_PUBLIC_URL must be "
        "the https URL operators open. Unset, plain HTTP is refused on any address but "
        "loopback, so tokens never cross a network unencrypted by accident.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-Proto and "
        "X-Forwarded-For are believed (such as 127.0.0.1 for a local nginx terminating TLS); "
        "empty: none, the headers are ignored.",
    )
    event_retention_days: int | None = Field(
        None,
        ge=31,
        description="Days of heartbeats, usage records and other high-volume events kept in the "
        "event log; `mcos db archive` without --before moves older ones to a file (run it from "
        "cron or a timer). Unset: keep everything. At least 31 (the dashboard's longest "
        "look-back).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the server and uvicorn."
    )
    access_log: bool = Field(False, description="Log every HTTP request (costly under load).")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="How `mcos serve` and `mcos run` write their log: `text` lines, or `json`, "
        "one object per line (time, level, logger, message, and request_id on a line logged "
        "while handling a request). --log-format overrides it.",
    )
    metrics: Literal["off", "token", "open"] = Field(
        "token",
        description="Who may read GET /metrics (Prometheus text format): `token`, callers with "
        "an operator token; `open`, anyone who can reach the port (a loopback or private "
        "listener); `off`, nobody (the route does not exist).",
    )
    otlp_agent_attribute: str = Field(
        "gen_ai.agent.name",
        min_length=1,
        max_length=200,
        description="The span (or resource) attribute that names the agent of a span sent to "
        "POST /v1/traces. A span without it is its nearest ancestor's agent, else the "
        "resource's service.name when that names an agent of the fleet, else the token's own "
        "agent.",
    )
    otlp_max_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1_024,
        description="Largest OTLP export request accepted at POST /v1/traces, as sent and again "
        "once decompressed (gzip); larger ones get 413 with an OTLP error status.",
    )
