"""Every path of the REST API, written once: constants for fixed paths, small functions for paths
with an id or a name in them.

Clients (``mcos.client``, the runtime's tools, the CLI, the demo) build URLs from here, so a
renamed route is one change and a typo is an import error rather than a 404 at run time.
``tests/contract/test_paths.py`` checks that these are exactly the operations the API serves.
Names and ids are inserted as given: they are checked against the API's own patterns there.
"""

from __future__ import annotations

from typing import Literal

Id = int | str
"""A row id (an ``int``; a ``str`` to build a template such as ``{task_id}``)."""

API = "/api/v1"
HEALTH = f"{API}/health"

AGENTS = f"{API}/agents"
TASKS = f"{API}/tasks"
MESSAGES = f"{API}/messages"
EVENTS = f"{API}/events"
BATCH = f"{API}/batch"
REPORTS = f"{API}/reports"
STREAM = f"{API}/stream"
ACTIONS = f"{API}/actions"
APPROVALS = f"{API}/approvals"
INCIDENTS = f"{API}/incidents"
USAGE = f"{API}/usage"
USAGE_ROI = f"{API}/usage/roi"
BRIEFING = f"{API}/briefing"
COMMITTEES = f"{API}/committees"
ROUTE = f"{API}/route"
SCHEDULES = f"{API}/schedules"
TOKENS = f"{API}/tokens"
TOKENS_CURRENT = f"{API}/tokens/current"
OPERATORS = f"{API}/operators"
MAIL_ACCOUNTS = f"{API}/mail/accounts"
MAIL_MESSAGES = f"{API}/mail/messages"
MAIL_TRIAGE = f"{API}/mail/triage"
MAIL_DIGESTS = f"{API}/mail/digests"
MAIL_DRAFTS = f"{API}/mail/drafts"
NOTIFY = f"{API}/notify"
REGISTRY = f"{API}/registry"
SERVICES = f"{API}/services"
LEGAL_TEMPLATES = f"{API}/legal/templates"
LEGAL_CHECK = f"{API}/legal/check"
DASHBOARD_SESSION = f"{API}/dashboard/session"
DASHBOARD_SNAPSHOT = f"{API}/dashboard/snapshot"
DASHBOARD_SERIES = f"{API}/dashboard/series"
FLEET = f"{API}/fleet"
MCP = "/mcp"
"""The MCP server (streamable HTTP), beside the REST API rather than under it."""
OTLP_TRACES = "/v1/traces"
"""OTLP/HTTP's own path for traces, so an exporter needs only the control plane's URL."""
METRICS = "/metrics"
"""Prometheus's customary path, beside the REST API (``MCOS_METRICS`` says who may read it)."""


# An agent, and what its runtime reports about it.


def agent(name: str) -> str:
    return f"{AGENTS}/{name}"


def heartbeat(name: str) -> str:
    return f"{AGENTS}/{name}/heartbeat"


def nudge(name: str) -> str:
    return f"{AGENTS}/{name}/nudge"


def agent_tokens(name: str) -> str:
    return f"{AGENTS}/{name}/tokens"


def memory(name: str) -> str:
    """Write a note (``POST``), or read the notes (``GET``)."""
    return f"{AGENTS}/{name}/memory"


def compactions(name: str) -> str:
    return f"{AGENTS}/{name}/compactions"


def set_aside(name: str) -> str:
    return f"{AGENTS}/{name}/set-aside"


def cooldown(name: str) -> str:
    return f"{AGENTS}/{name}/cooldown"


def usage(name: str) -> str:
    """One LLM call of this agent (``POST``)."""
    return f"{AGENTS}/{name}/usage"


def budget(name: str) -> str:
    return f"{AGENTS}/{name}/budget"


def budget_check(name: str) -> str:
    return f"{AGENTS}/{name}/budget/check"


def suspend(name: str) -> str:
    return f"{AGENTS}/{name}/suspend"


def resume(name: str) -> str:
    return f"{AGENTS}/{name}/resume"


def dashboard_agent(name: str) -> str:
    return f"{API}/dashboard/agents/{name}"


# Tasks and their files.


def task(task_id: Id) -> str:
    return f"{TASKS}/{task_id}"


def move(task_id: Id) -> str:
    return f"{TASKS}/{task_id}/move"


def assign(task_id: Id) -> str:
    return f"{TASKS}/{task_id}/assign"


def comments(task_id: Id) -> str:
    return f"{TASKS}/{task_id}/comments"


def artifacts(task_id: Id) -> str:
    return f"{TASKS}/{task_id}/artifacts"


def artifact_content(task_id: Id, artifact_id: Id) -> str:
    return f"{TASKS}/{task_id}/artifacts/{artifact_id}/content"


def artifact_preview(task_id: Id, artifact_id: Id) -> str:
    return f"{TASKS}/{task_id}/artifacts/{artifact_id}/preview"


def legal_drafts(task_id: Id) -> str:
    return f"{TASKS}/{task_id}/drafts"


# Decisions: approvals, incidents, committees.


def approval(approval_id: Id) -> str:
    return f"{APPROVALS}/{approval_id}"


def decide_approval(approval_id: Id, verb: Literal["approve", "deny"]) -> str:
    return f"{APPROVALS}/{approval_id}/{verb}"


def incident(incident_id: Id) -> str:
    return f"{INCIDENTS}/{incident_id}"


def decide_incident(incident_id: Id, verb: Literal["confirm", "dismiss"]) -> str:
    return f"{INCIDENTS}/{incident_id}/{verb}"


def committee(committee_id: Id) -> str:
    return f"{COMMITTEES}/{committee_id}"


def positions(committee_id: Id) -> str:
    return f"{COMMITTEES}/{committee_id}/positions"


# The fleet's machinery: schedules, tokens, notify channels, services, the registry.


def run_schedule(name: str) -> str:
    return f"{SCHEDULES}/{name}/run"


def revoke_token(token_id: Id) -> str:
    return f"{TOKENS}/{token_id}/revoke"


def rotate_token(token_id: Id) -> str:
    return f"{TOKENS}/{token_id}/rotate"


def operator(name: str) -> str:
    return f"{OPERATORS}/{name}"


def notify_test(name: str) -> str:
    return f"{NOTIFY}/{name}/test"


def service(name: str) -> str:
    return f"{SERVICES}/{name}"


def service_state(name: str) -> str:
    return f"{SERVICES}/{name}/state"


def remediations(name: str) -> str:
    return f"{SERVICES}/{name}/remediations"


def company(key: str) -> str:
    return f"{REGISTRY}/companies/{key}"


def person(key: str) -> str:
    return f"{REGISTRY}/people/{key}"


# Mail.


def mail_sync(account: str) -> str:
    return f"{MAIL_ACCOUNTS}/{account}/sync"


def mail_failed(account: str) -> str:
    return f"{MAIL_ACCOUNTS}/{account}/failed"


def mail_message(mail_id: Id) -> str:
    return f"{MAIL_MESSAGES}/{mail_id}"


def digest(digest_id: Id) -> str:
    return f"{MAIL_DIGESTS}/{digest_id}"


def draft(draft_id: Id) -> str:
    return f"{MAIL_DRAFTS}/{draft_id}"


def draft_sent(draft_id: Id) -> str:
    return f"{MAIL_DRAFTS}/{draft_id}/sent"


def draft_failed(draft_id: Id) -> str:
    return f"{MAIL_DRAFTS}/{draft_id}/failed"
