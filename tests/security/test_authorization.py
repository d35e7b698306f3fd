"""The authorization matrix: every operation of ``/openapi.json`` tried by every kind of caller.

The callers: no token; another agent (Donna); the agent the request is about (Flow); a runner
token of another machine (the Mac Mini's) naming Flow; the runner token of Flow's machine (velo)
naming Flow; and three people: a viewer, an approver and an owner (``operator``). The expected
outcome is written once per operation, by the rule that governs it (:data:`RULES`); an operation
the table does not name fails the test, so a new route cannot arrive without its rule. "Allowed"
means the request passed authorization (any answer but 401, 403 or 404); "refused" means one of
those three, and no token is always 401. A viewer is refused every change with 403, whatever the
route (``api/auth.py`` ``check_role``): :func:`test_a_viewer_is_refused_every_change_with_403`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from mcos.api.auth import OWNER_ONLY
from tests.fixtures.mail_fleet import item
from tests.fixtures.server import Server, running_server

CALLERS = ("none", "other", "runner_other", "self", "runner_own", "viewer", "approver", "operator")
"""In the order they try each operation: the people last (the owner, ``operator``, the very
last), since they may change what they try."""

OK, NO = True, False
Expect = dict[str, bool]


def rule(*allowed: str) -> Expect:
    return {caller: caller in allowed for caller in CALLERS}


PEOPLE = ("operator", "approver", "viewer")
"""Operators by role: the owner (``mcos init``'s first person), an approver and a viewer."""
DECIDERS = ("operator", "approver")
"""The people who may change anything: a viewer changes nothing."""

PUBLIC = rule(*CALLERS)
OWNER = rule("operator")
"""Owners only: tokens, operators, budgets."""
PEOPLE_READ = rule(*PEOPLE)
"""People only, any role: the token list, the dashboard's reads, notify channels."""
PEOPLE_WRITE = rule(*DECIDERS)
"""People who decide: a human's approvals and incidents, legal drafts, a notify test."""
SELF = rule("self", "runner_own", *DECIDERS)
"""The agent itself (or its own machine's runner acting as it), and the people who decide."""
SELF_READ = rule("self", "runner_own", *PEOPLE)
"""What the agent itself sees, and every operator."""
ANY = rule("other", "self", "runner_own", *DECIDERS)
"""Any caller acting as an agent of the fleet, and the people who decide."""
ANY_READ = rule("other", "self", "runner_own", *PEOPLE)
"""Any caller acting as an agent of the fleet (what it sees is filtered to what is its)."""
FLEET = rule(*DECIDERS)
"""Fleet powers: the people who decide and the orchestrator (Jarvis, not among these callers)."""
FLEET_READ = rule(*PEOPLE)
"""Fleet-wide reads: every operator and the orchestrator."""
RUNTIME = rule("other", "self", "runner_own")
"""A runtime's bundle of reports: any agent's or runner's token gets in, and each report is
then authorized as its own route would authorize it, in its own result (a report for an agent
the caller may not act as is refused there: ``tests/api/test_reports.py``); people are refused."""
NOBODY_BY_BEARER = rule()
"""The dashboard's own session routes: a signed-in browser's cookie, never a bearer token."""

OTLP_SPAN_FOR_FLOW = {
    "resourceSpans": [
        {
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                            "name": "chat",
                            "attributes": [
                                {"key": "gen_ai.agent.name", "value": {"stringValue": "flow"}},
                                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 1}},
                                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 1}},
                            ],
                        }
                    ]
                }
            ]
        }
    ]
}

RULES: dict[str, Expect] = {
    "GET /api/v1/health": PUBLIC,
    "GET /api/v1/agents": ANY_READ,
    "GET /api/v1/agents/{name}": ANY_READ,
    "POST /api/v1/agents/{name}/heartbeat": SELF,
    "POST /api/v1/agents/{name}/nudge": FLEET,
    "POST /api/v1/agents/{name}/tokens": OWNER,
    "POST /api/v1/agents/{name}/memory": SELF,
    "GET /api/v1/agents/{name}/memory": SELF_READ,
    "POST /api/v1/agents/{name}/compactions": SELF,
    "POST /api/v1/agents/{name}/set-aside": SELF,
    "POST /api/v1/agents/{name}/cooldown": SELF,
    "POST /api/v1/agents/{name}/usage": SELF,
    "POST /api/v1/agents/{name}/budget/check": SELF,
    "PATCH /api/v1/agents/{name}/budget": OWNER,
    "POST /api/v1/agents/{name}/suspend": FLEET,
    "POST /api/v1/agents/{name}/resume": FLEET,
    "GET /api/v1/tasks": ANY_READ,
    "POST /api/v1/tasks": ANY,
    "GET /api/v1/tasks/{task_id}": ANY_READ,
    "PATCH /api/v1/tasks/{task_id}": SELF,
    "POST /api/v1/tasks/{task_id}/move": SELF,
    "POST /api/v1/tasks/{task_id}/assign": SELF,
    "POST /api/v1/tasks/{task_id}/comments": ANY,
    # Files on a task: its parties (assignee, creator, the assignee's supervisor, the
    # orchestrator) and operators; Donna has no part in Flow's task.
    "POST /api/v1/tasks/{task_id}/artifacts": SELF,
    "GET /api/v1/tasks/{task_id}/artifacts": SELF_READ,
    "GET /api/v1/tasks/{task_id}/artifacts/{artifact_id}/content": SELF_READ,
    "GET /api/v1/tasks/{task_id}/artifacts/{artifact_id}/preview": SELF_READ,
    "POST /api/v1/messages": ANY,
    "GET /api/v1/messages": ANY_READ,
    "GET /api/v1/events": ANY_READ,
    "POST /api/v1/events": ANY,
    "POST /api/v1/batch": SELF,
    "POST /api/v1/reports": RUNTIME,
    # OTLP traces in: spans for Flow, refused (403) to a token that does not own Flow.
    "POST /v1/traces": SELF,
    "GET /api/v1/stream": ANY_READ,
    "POST /api/v1/actions": SELF,
    "POST /api/v1/approvals": SELF,
    "GET /api/v1/approvals": ANY_READ,
    "GET /api/v1/approvals/{approval_id}": SELF_READ,
    "POST /api/v1/approvals/{approval_id}/approve": PEOPLE_WRITE,
    "POST /api/v1/approvals/{approval_id}/deny": PEOPLE_WRITE,
    "POST /api/v1/incidents": SELF,
    "GET /api/v1/incidents": ANY_READ,
    "GET /api/v1/incidents/{incident_id}": SELF_READ,
    "POST /api/v1/incidents/{incident_id}/confirm": PEOPLE_WRITE,
    "POST /api/v1/incidents/{incident_id}/dismiss": PEOPLE_WRITE,
    "GET /api/v1/usage/roi": ANY_READ,
    "GET /api/v1/usage": ANY_READ,
    "GET /api/v1/briefing": FLEET_READ,
    "POST /api/v1/committees": FLEET,
    "GET /api/v1/committees": ANY_READ,
    "GET /api/v1/committees/{committee_id}": SELF_READ,
    "POST /api/v1/committees/{committee_id}/positions": SELF,
    "POST /api/v1/route": FLEET,
    "GET /api/v1/schedules": FLEET_READ,
    "POST /api/v1/schedules/{name}/run": FLEET,
    "GET /api/v1/mail/accounts": ANY_READ,
    "POST /api/v1/mail/accounts/{account}/sync": rule("self", "runner_own"),
    "POST /api/v1/mail/accounts/{account}/failed": rule("self", "runner_own"),
    "GET /api/v1/mail/messages": ANY_READ,
    "GET /api/v1/mail/messages/{mail_id}": SELF_READ,
    "POST /api/v1/mail/triage": SELF,
    "POST /api/v1/mail/digests": rule("self", "runner_own"),
    "GET /api/v1/mail/digests": ANY_READ,
    "GET /api/v1/mail/digests/{digest_id}": SELF_READ,
    "POST /api/v1/mail/drafts": rule("self", "runner_own"),
    "GET /api/v1/mail/drafts": ANY_READ,
    "GET /api/v1/mail/drafts/{draft_id}": SELF_READ,
    # Flow's account may not send (Flow lacks email.send): refused whoever reports a send;
    # who may, and only as approved, is tests/mail/test_mail_api.py's.
    "POST /api/v1/mail/drafts/{draft_id}/sent": rule(),
    "POST /api/v1/mail/drafts/{draft_id}/failed": rule(),
    "GET /api/v1/notify": PEOPLE_READ,
    "POST /api/v1/notify/{name}/test": PEOPLE_WRITE,
    "GET /api/v1/services": ANY_READ,
    "GET /api/v1/services/{name}": ANY_READ,
    # Only the runner of the service's machine, acting as its owner (Flow owns "flow" here).
    "POST /api/v1/services/{name}/state": rule("runner_own"),
    "POST /api/v1/services/{name}/remediations": rule("runner_own"),
    "GET /api/v1/tokens": PEOPLE_READ,
    "POST /api/v1/tokens": OWNER,
    "GET /api/v1/tokens/current": ANY_READ,
    "GET /api/v1/operators": PEOPLE_READ,
    "POST /api/v1/operators": OWNER,
    # Carol (a viewer) is made an approver; Dave is removed, his token with him.
    "PATCH /api/v1/operators/{name}": OWNER,
    "DELETE /api/v1/operators/{name}": OWNER,
    # The fleet file: an operator sees all of it, a runner its machine, an agent (or a runner
    # acting as one) itself only; never a secret (tests/api/test_fleet_view.py).
    "GET /api/v1/fleet": ANY_READ,
    "POST /api/v1/tokens/{token_id}/revoke": OWNER,
    "POST /api/v1/tokens/{token_id}/rotate": OWNER,
    "GET /api/v1/dashboard/session": NOBODY_BY_BEARER,
    "POST /api/v1/dashboard/session": PUBLIC,
    "DELETE /api/v1/dashboard/session": PUBLIC,
    "GET /api/v1/dashboard/snapshot": PEOPLE_READ,
    "GET /api/v1/dashboard/series": PEOPLE_READ,
    "GET /api/v1/dashboard/agents/{name}": PEOPLE_READ,
    # The entity registry: read by everyone acting for the fleet; nothing writes it over the API.
    "GET /api/v1/registry": ANY_READ,
    # Legal drafts: agents with legal.draft party to the task (Apex; tests/legal) and operators.
    "GET /api/v1/legal/templates": ANY_READ,
    "POST /api/v1/tasks/{task_id}/drafts": PEOPLE_WRITE,
    "POST /api/v1/legal/check": PEOPLE_WRITE,
    "GET /api/v1/registry/companies/{key}": ANY_READ,
    "GET /api/v1/registry/people/{key}": ANY_READ,
    # MCP acts as an agent: its own token (or its machine's runner naming it); never an
    # operator's. What each tool may do is the REST API's own rule above (tests/mcp).
    "POST /mcp": rule("other", "self", "runner_own"),
    # Prometheus's scrape: an operator token by default (MCOS_METRICS=token; tests/api).
    "GET /metrics": PEOPLE_READ,
}


@dataclass
class Fixture:
    server: Server
    tokens: dict[str, str | None]
    """Each caller's token (``None``: no token)."""
    ids: dict[str, int]
    """The path parameters of the resources the operations are tried on."""


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    folder = tmp_path_factory.mktemp("authz")
    with running_server(
        folder,
        f"sqlite+pysqlite:///{folder / 'mcos.db'}",
        fleet_extra=NOTIFY_CHANNEL + MAILBOX + SERVICE,
    ) as server:
        with server.client() as operator:
            runners = {
                machine: _created(
                    operator.post("/api/v1/tokens", json={"kind": "runner", "machine": machine})
                )["token"]
                for machine in ("velo", "mac-mini")
            }
            tokens: dict[str, str | None] = {
                "none": None,
                "other": server.agent_token("donna"),
                "self": server.agent_token("flow"),
                "runner_other": runners["mac-mini"],
                "runner_own": runners["velo"],
                "operator": server.operator_token,
            }
            for name, role in (("vic", "viewer"), ("bob", "approver")):
                tokens[role] = _created(
                    operator.post("/api/v1/operators", json={"name": name, "role": role})
                )["token"]
            for name, role in (("carol", "viewer"), ("dave", "approver")):
                _created(operator.post("/api/v1/operators", json={"name": name, "role": role}))
            task = _created(
                operator.post("/api/v1/tasks", json={"title": "Fix CI", "assignee": "flow"})
            )
            spare = _created(operator.post("/api/v1/tokens", json={"kind": "operator"}))
            with server.client(str(tokens["self"])) as flow:
                approvals = [
                    _created(
                        flow.post(
                            "/api/v1/approvals",
                            json={"capability": capability, "reason": "ci"},
                        )
                    )
                    for capability in ("exec", "network")
                ]
                incidents = [
                    _created(flow.post("/api/v1/incidents", json={"severity": "P2", "title": t}))
                    for t in ("odd log", "odd port")
                ]
                [mail_id] = _created(
                    flow.post(
                        "/api/v1/mail/accounts/flow-imap/sync",
                        json={"items": [item(1)], "cursor": {"last_uid": 1}},
                    )
                )["ids"]
                digest = _created(flow.post("/api/v1/mail/digests", json={}))
                draft = _created(flow.post("/api/v1/mail/drafts", json=DRAFT))
                artifact = _created(
                    flow.post(
                        f"/api/v1/tasks/{task['id']}/artifacts",
                        params={"name": "notes.md"},
                        content=b"# notes",
                        headers={"Content-Type": "text/markdown"},
                    )
                )
            committee = _created(
                operator.post(
                    "/api/v1/committees",
                    json={
                        "title": "Adopt pnpm?",
                        "question": "Should the build use pnpm?",
                        "members": ["flow", "elon"],
                        "human": True,
                    },
                )
            )
        yield Fixture(
            server,
            tokens,
            {
                "task_id": task["id"],
                "approval_id": approvals[0]["id"],
                "denied_approval_id": approvals[1]["id"],
                "incident_id": incidents[0]["id"],
                "dismissed_incident_id": incidents[1]["id"],
                "committee_id": committee["id"],
                "token_id": spare["id"],
                "mail_id": mail_id,
                "digest_id": digest["id"],
                "draft_id": draft["id"],
                "artifact_id": artifact["id"],
            },
        )


NOTIFY_CHANNEL = """
[[notify]]
name = "owner-telegram"
kind = "telegram"
token_env = "MCOS_MATRIX_TELEGRAM_TOKEN"  # not set: a test send fails at once, answering 200
chat_id = "1"
api_url = "http://127.0.0.1:9"
carries = ["p0"]
"""


MAILBOX = """
[[mail.accounts]]
name = "flow-imap"
kind = "imap"
owner = "flow"
may = ["read", "draft"]
address = "flow@velo.example"
host = "127.0.0.1"
port = 9
tls = "none"
user = "flow"
password_env = "MCOS_MATRIX_MAIL_PASSWORD"
"""
SERVICE = """
[[services]]
name = "flow"
machine = "velo"
owner = "flow"
kind = "tcp"
port = 9
every_seconds = 3600
"""
DRAFT = {"account": "flow-imap", "to": ["a@b.example"], "subject": "matrix", "body": "matrix"}
LEGAL_DRAFT = {
    "template": "compliance-letter",
    "parties": {"sender": "velocity-fibre", "addressee": "specter-holdings"},
    "fields": {"subject": "matrix", "requirement": "matrix", "confirmations": ["matrix"]},
}


def _request(world: Fixture, key: str) -> tuple[str, str, dict[str, Any]]:
    """The method, the path with its parameters, and a valid request for the operation."""
    method, template = key.split(" ", 1)
    name = "morning-briefing" if template.startswith("/api/v1/schedules/") else "flow"
    if template.startswith("/api/v1/notify/"):
        name = "owner-telegram"
    if template.startswith("/api/v1/operators/"):
        name = "dave" if method == "DELETE" else "carol"
    ids = dict(world.ids)
    if template.endswith("/deny"):  # the approval the approve operation left pending
        ids["approval_id"] = ids["denied_approval_id"]
    if template.endswith("/dismiss"):
        ids["incident_id"] = ids["dismissed_incident_id"]
    entity = "alex-specter" if "/registry/people/" in template else "velocity-fibre"
    path = template.format(name=name, account="flow-imap", key=entity, **ids)
    workspace = str(world.server.fleet_dir / "workspaces" / "flow" / "notes.md")
    bodies: dict[str, Any] = {
        "POST /api/v1/agents/{name}/heartbeat": {"status": "idle"},
        "POST /api/v1/agents/{name}/nudge": {"reason": "matrix"},
        "POST /api/v1/agents/{name}/tokens": {},
        "POST /api/v1/agents/{name}/memory": {"content": "matrix"},
        "POST /api/v1/agents/{name}/compactions": {"tokens_before": 10, "tokens_after": 1},
        "POST /api/v1/agents/{name}/set-aside": {
            "method": "POST",
            "path": "/x",
            "status": 422,
            "error": "matrix",
        },
        "POST /api/v1/agents/{name}/cooldown": {"retry_after_seconds": 0.01},
        "POST /api/v1/agents/{name}/usage": {"input_tokens": 1, "output_tokens": 1},
        "POST /api/v1/agents/{name}/budget/check": {},
        "PATCH /api/v1/agents/{name}/budget": {"daily_usd": 5, "reason": "matrix"},
        "POST /api/v1/agents/{name}/suspend": {"reason": "matrix"},
        "POST /api/v1/agents/{name}/resume": {"reason": "matrix"},
        "POST /api/v1/tasks": {"title": "matrix"},
        "PATCH /api/v1/tasks/{task_id}": {"priority": "high"},
        "POST /api/v1/tasks/{task_id}/move": {"status": "in_progress"},
        "POST /api/v1/tasks/{task_id}/assign": {"assignee": "flow"},
        "POST /api/v1/tasks/{task_id}/comments": {"body": "matrix"},
        "POST /api/v1/messages": {"to": "flow", "body": "matrix"},
        "POST /api/v1/events": {"type": "matrix.tried", "data": {"agent": "flow"}},
        "POST /api/v1/batch": {"heartbeats": [{"id": "m", "agent": "flow"}]},
        "POST /api/v1/reports": {
            "reports": [
                {
                    "agent": "flow",
                    "path": "/api/v1/events",
                    "body": {"type": "matrix.tried", "data": {"agent": "flow"}},
                }
            ]
        },
        "POST /v1/traces": OTLP_SPAN_FOR_FLOW,
        "POST /api/v1/actions": {
            "kind": "file.write",
            "paths": [workspace],
            "files_touched": 1,
            "agent": "flow",
        },
        "POST /api/v1/approvals": {"capability": "exec", "reason": "ci", "agent": "flow"},
        "POST /api/v1/approvals/{approval_id}/approve": {},
        "POST /api/v1/approvals/{approval_id}/deny": {"comment": "matrix"},
        "POST /api/v1/incidents": {"severity": "P3", "title": "matrix", "agent": "flow"},
        "POST /api/v1/incidents/{incident_id}/confirm": {},
        "POST /api/v1/incidents/{incident_id}/dismiss": {"comment": "matrix"},
        "POST /api/v1/committees": {
            "title": "matrix",
            "question": "?",
            "members": ["flow"],
        },
        "POST /api/v1/committees/{committee_id}/positions": {
            "position": "for",
            "reasons": "matrix",
        },
        "POST /api/v1/route": {"title": "matrix", "dry_run": True},
        "POST /api/v1/schedules/{name}/run": {},
        "POST /api/v1/tokens": {"kind": "runner", "machine": "velo"},
        "POST /api/v1/operators": {"name": "erin", "role": "viewer"},
        "PATCH /api/v1/operators/{name}": {"role": "approver"},
        "POST /api/v1/tokens/{token_id}/revoke": {},
        "POST /api/v1/tokens/{token_id}/rotate": {"grace_minutes": 1},
        "POST /api/v1/dashboard/session": {"token": world.server.operator_token},
        "POST /api/v1/mail/accounts/{account}/sync": {"items": [], "cursor": {"last_uid": 1}},
        "POST /api/v1/mail/accounts/{account}/failed": {"kind": "network", "message": "matrix"},
        "POST /api/v1/mail/triage": {
            "verdicts": [{"message": world.ids["mail_id"], "category": "later"}]
        },
        "POST /api/v1/mail/digests": {},
        "POST /api/v1/mail/drafts": DRAFT,
        "POST /api/v1/tasks/{task_id}/drafts": LEGAL_DRAFT,
        "POST /api/v1/legal/check": {
            "template": LEGAL_DRAFT["template"],
            "parties": LEGAL_DRAFT["parties"],
            "content_base64": "AAAA",
        },
        "POST /api/v1/mail/drafts/{draft_id}/sent": {"body_sha256": "0" * 64},
        "POST /api/v1/mail/drafts/{draft_id}/failed": {"message": "matrix"},
        "POST /api/v1/services/{name}/state": {"state": "up", "at": "2026-11-28T03:00:00Z"},
        "POST /api/v1/services/{name}/remediations": {
            "action": "restart",
            "by": "agent",
            "command": "true",
            "at": "2026-11-28T03:00:00Z",
            "seconds": 0.1,
        },
    }
    request: dict[str, Any] = {}
    if key == "POST /mcp":
        request["headers"] = {"Accept": "application/json, text/event-stream"}
        bodies[key] = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    if key in bodies:
        request["json"] = bodies[key]
    if key == "GET /api/v1/stream":
        request["params"] = {"after": 0}
    if key == "POST /api/v1/tasks/{task_id}/artifacts":
        request |= {
            "params": {"name": "matrix.md"},
            "content": b"matrix",
            "headers": {"Content-Type": "text/markdown"},
        }
    return method, path, request


def _try(world: Fixture, caller: str, key: str) -> int:
    method, path, request = _request(world, key)
    headers: dict[str, str] = {}
    token = world.tokens[caller]
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if caller.startswith("runner"):
        headers["X-MCOS-Agent"] = "flow"
    with httpx.Client(base_url=world.server.url, timeout=30, headers=headers) as client:
        if key == "GET /api/v1/stream":
            with client.stream(method, path, **request) as response:
                return response.status_code
        return client.request(method, path, **request).status_code


def test_every_operation_has_its_rule(world: Fixture) -> None:
    with world.server.client() as operator:
        spec = operator.get("/openapi.json").json()
    operations = {
        f"{method.upper()} {path}" for path, methods in spec["paths"].items() for method in methods
    }
    assert operations == set(RULES), {
        "without a rule": sorted(operations - set(RULES)),
        "rules for no operation": sorted(set(RULES) - operations),
    }


@pytest.mark.parametrize("key", sorted(RULES))
def test_the_matrix(world: Fixture, key: str) -> None:
    outcomes = {caller: _try(world, caller, key) for caller in CALLERS}
    wrong = {}
    for caller, status in outcomes.items():
        allowed = status not in (401, 403, 404)
        if allowed != RULES[key][caller]:
            wrong[caller] = status
        elif caller == "none" and not allowed and status != 401:
            wrong[caller] = status
    assert not wrong, f"{key}: {wrong} (all: {outcomes})"


def test_a_viewer_is_refused_every_change_with_403(world: Fixture) -> None:
    changes = [key for key in RULES if not key.startswith("GET ")]
    refused = {key: _try(world, "viewer", key) for key in changes}
    public = {key for key in changes if RULES[key] == PUBLIC}
    wrong = {key: status for key, status in refused.items() if key not in public and status != 403}
    assert not wrong, f"a viewer must get 403 (read-only), not: {wrong}"


def test_only_owners_change_tokens_operators_and_budgets(world: Fixture) -> None:
    """The owner-only operations the server enforces are exactly those the matrix says."""
    assert {key for key, expect in RULES.items() if expect == OWNER} == set(OWNER_ONLY)
