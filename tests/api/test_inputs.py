"""Strict, bounded inputs on every endpoint: each bad input is refused in the one error shape,
naming the field and the problem, on SQLite and on PostgreSQL — never a 500.

The table holds the inputs found by throwing bad values at a real server (integers past their
column, NUL, NaN and Infinity, strings for numbers, bodies that are not JSON); the good inputs at
its end must still be accepted as they are (ISO dates and enum values arrive as strings).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.fixtures.database import own_postgres_database
from tests.fixtures.server import Server, error_of, running_server

NUL = "a\x00b"
INF, NAN = float("inf"), float("nan")
INT32, INT64 = 2**31, 2**63  # one past the largest value of an Integer / BigInteger column
JSON = {"Content-Type": "application/json"}


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: Any = None
    """Sent as JSON text, NaN and Infinity included (bytes: sent as they are)."""
    status: int = 422
    code: str | None = "invalid"
    field: str | None = None
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    check: Callable[[Any], None] | None = None
    """For an accepted input: what the answer must say."""


def bad(id: str, method: str, path: str, body: Any, at: str | None, **more: Any) -> Case:
    return Case(id, method, path, body, field=at, **more)


def query(id: str, path: str, at: str, **params: str) -> Case:
    return Case(id, "GET", path, field=at, params=params)


HEARTBEAT = "/api/v1/agents/donna/heartbeat"
DEEP = {"k": json.loads("[" * 40 + "]" * 40)}

OVERFLOW = [
    query("task id past Integer", "/api/v1/tasks/2147483648", "task_id"),
    query("task id of 20 digits", "/api/v1/tasks/99999999999999999999", "task_id"),
    query("task id 0", "/api/v1/tasks/0", "task_id"),
    bad(
        "move task past BigInteger",
        "POST",
        f"/api/v1/tasks/{INT64}/move",
        {"status": "inbox"},
        "task_id",
    ),
    bad("patch task past Integer", "PATCH", f"/api/v1/tasks/{INT32}", {}, "task_id"),
    query("approval id past Integer", f"/api/v1/approvals/{INT32}", "approval_id"),
    bad("approve past BigInteger", "POST", f"/api/v1/approvals/{INT64}/approve", {}, "approval_id"),
    query("incident id of 20 digits", "/api/v1/incidents/99999999999999999999", "incident_id"),
    bad(
        "dismiss past Integer",
        "POST",
        f"/api/v1/incidents/{INT32}/dismiss",
        {"comment": "x"},
        "incident_id",
    ),
    query("committee id past Integer", f"/api/v1/committees/{INT32}", "committee_id"),
    bad(
        "position past Integer",
        "POST",
        f"/api/v1/committees/{INT32}/positions",
        {"position": "for", "reasons": "r"},
        "committee_id",
    ),
    query("tasks after_id past Integer", "/api/v1/tasks", "after_id", after_id=str(INT32)),
    query("messages after_id past BigInteger", "/api/v1/messages", "after_id", after_id=str(INT64)),
    query("events after past BigInteger", "/api/v1/events", "after", after=str(INT64)),
    query("stream after past BigInteger", "/api/v1/stream", "after", after=str(INT64)),
    Case(
        "Last-Event-ID past BigInteger",
        "GET",
        "/api/v1/stream",
        field="Last-Event-ID",
        headers={"Last-Event-ID": str(INT64)},
    ),
    Case(
        "Last-Event-ID with an underscore",
        "GET",
        "/api/v1/stream",
        field="Last-Event-ID",
        headers={"Last-Event-ID": "1_0"},
    ),
    bad("heartbeat current_task", "POST", HEARTBEAT, {"current_task": INT32}, "current_task"),
    bad(
        "heartbeat ack_messages_through",
        "POST",
        HEARTBEAT,
        {"ack_messages_through": INT64},
        "ack_messages_through",
    ),
    bad(
        "heartbeat ack_incidents_through",
        "POST",
        HEARTBEAT,
        {"ack_incidents_through": INT32},
        "ack_incidents_through",
    ),
    bad(
        "batch heartbeat current_task",
        "POST",
        "/api/v1/batch",
        {"heartbeats": [{"id": "h1", "agent": "donna", "current_task": INT32}]},
        "heartbeats[0].current_task",
    ),
    bad("task parent_id", "POST", "/api/v1/tasks", {"title": "t", "parent_id": INT32}, "parent_id"),
    bad(
        "task depends_on",
        "POST",
        "/api/v1/tasks",
        {"title": "t", "depends_on": [1, INT64]},
        "depends_on[1]",
    ),
    bad(
        "message task_id",
        "POST",
        "/api/v1/messages",
        {"to": "donna", "body": "b", "task_id": 10**20},
        "task_id",
    ),
    bad(
        "usage latency_ms",
        "POST",
        "/api/v1/agents/donna/usage",
        {"input_tokens": 1, "output_tokens": 1, "latency_ms": INT32},
        "latency_ms",
    ),
    bad(
        "usage task_id",
        "POST",
        "/api/v1/agents/donna/usage",
        {"input_tokens": 1, "output_tokens": 1, "task_id": INT64},
        "task_id",
    ),
    bad(
        "action files_touched",
        "POST",
        "/api/v1/actions",
        {"kind": "file.write", "agent": "donna", "files_touched": 10**20},
        "files_touched",
    ),
    bad(
        "action approval_id",
        "POST",
        "/api/v1/actions",
        {"kind": "shell.exec", "agent": "donna", "approval_id": INT32},
        "approval_id",
    ),
    bad(
        "committee approval_id",
        "POST",
        "/api/v1/committees",
        {"title": "t", "question": "q", "members": ["donna"], "approval_id": INT32},
        "approval_id",
    ),
    bad(
        "committee task_id",
        "POST",
        "/api/v1/committees",
        {"title": "t", "question": "q", "members": ["donna"], "task_id": INT64},
        "task_id",
    ),
    bad(
        "budget daily_tokens",
        "PATCH",
        "/api/v1/agents/donna/budget",
        {"reason": "r", "daily_tokens": 10**20},
        "daily_tokens",
    ),
    bad(
        "event data past 64 bits",
        "POST",
        "/api/v1/events",
        {"type": "runtime.x", "data": {"n": 2**64}},
        "data.n",
    ),
    bad(
        "batch event data below 64 bits",
        "POST",
        "/api/v1/batch",
        {"events": [{"id": "e1", "type": "runtime.x", "data": {"n": -(2**63) - 1}}]},
        "events[0].data.n",
    ),
]

STRICT = [
    bad("string for an integer", "POST", HEARTBEAT, {"context_tokens": "12"}, "context_tokens"),
    bad(
        "true for an integer",
        "POST",
        "/api/v1/tasks",
        {"title": "t", "parent_id": True},
        "parent_id",
    ),
    bad(
        "12.5 for an integer",
        "POST",
        "/api/v1/agents/donna/compactions",
        {"tokens_before": 12.5, "tokens_after": 1},
        "tokens_before",
    ),
    bad(
        "12.0 for an integer",
        "POST",
        "/api/v1/agents/donna/usage",
        {"input_tokens": 12.0, "output_tokens": 1},
        "input_tokens",
    ),
    bad(
        "string for a number",
        "POST",
        "/api/v1/agents/donna/cooldown",
        {"retry_after_seconds": "5"},
        "retry_after_seconds",
    ),
    bad(
        "true for a number",
        "POST",
        "/api/v1/agents/donna/budget/check",
        {"estimated_usd": True},
        "estimated_usd",
    ),
    bad("1 for a bool", "POST", "/api/v1/messages", {"fleet": 1, "body": "b"}, "fleet"),
    bad("yes for a bool", "POST", "/api/v1/route", {"title": "t", "dry_run": "yes"}, "dry_run"),
    bad(
        "string true for a bool",
        "POST",
        "/api/v1/committees",
        {"title": "t", "question": "q", "members": ["donna"], "human": "true"},
        "human",
    ),
    bad(
        "1 for a bool in a batch",
        "POST",
        "/api/v1/batch",
        {"messages": [{"id": "m1", "fleet": 1, "body": "b"}]},
        "messages[0].fleet",
    ),
]

NUL_BYTES = [
    bad("task title", "POST", "/api/v1/tasks", {"title": NUL}, "title"),
    bad("task description", "PATCH", "/api/v1/tasks/1", {"description": NUL}, "description"),
    bad("comment", "POST", "/api/v1/tasks/1/comments", {"body": NUL}, "body"),
    bad("message body", "POST", "/api/v1/messages", {"to": "donna", "body": NUL}, "body"),
    bad("memory note", "POST", "/api/v1/agents/donna/memory", {"content": NUL}, "content"),
    bad(
        "incident title",
        "POST",
        "/api/v1/incidents",
        {"severity": "P3", "title": NUL, "agent": "donna"},
        "title",
    ),
    bad(
        "action path",
        "POST",
        "/api/v1/actions",
        {"kind": "file.write", "agent": "donna", "paths": ["ok", NUL]},
        "paths[1]",
    ),
    bad(
        "restore reason",
        "POST",
        "/api/v1/approvals",
        {"agent": "donna", "capability": "exec", "reason": NUL},
        "reason",
    ),
    bad("approval comment", "POST", "/api/v1/approvals/1/approve", {"comment": NUL}, "comment"),
    bad(
        "committee question",
        "POST",
        "/api/v1/committees",
        {"title": "t", "question": NUL, "members": ["donna"]},
        "question",
    ),
    bad("route title", "POST", "/api/v1/route", {"title": NUL}, "title"),
    bad("suspension reason", "POST", "/api/v1/agents/donna/suspend", {"reason": NUL}, "reason"),
    bad("nudge reason", "POST", "/api/v1/agents/donna/nudge", {"reason": NUL}, "reason"),
    bad("token label", "POST", "/api/v1/agents/donna/tokens", {"label": NUL}, "label"),
    bad("sign-in token", "POST", "/api/v1/dashboard/session", {"token": NUL}, "token"),
    bad(
        "event subject", "POST", "/api/v1/events", {"type": "runtime.x", "subject": NUL}, "subject"
    ),
    bad(
        "event data, nested",
        "POST",
        "/api/v1/events",
        {"type": "runtime.x", "data": {"a": {"b": ["x", NUL]}}},
        "data.a.b[1]",
    ),
    bad(
        "event data key", "POST", "/api/v1/events", {"type": "runtime.x", "data": {NUL: 1}}, "data"
    ),
    bad(
        "event data lone surrogate",
        "POST",
        "/api/v1/events",
        b'{"type": "runtime.x", "data": {"k": "\\ud800"}}',
        "data.k",
        headers=JSON,
    ),
    bad("heartbeat note", "POST", HEARTBEAT, {"note": NUL}, "note"),
    bad(
        "batch event data",
        "POST",
        "/api/v1/batch",
        {"events": [{"id": "e1", "type": "runtime.x", "data": {"k": NUL}}]},
        "events[0].data.k",
    ),
    query("messages channel", "/api/v1/messages", "channel", channel=NUL),
    query("events subject", "/api/v1/events", "subject", subject=NUL),
    query("events types", "/api/v1/events", "types", types="task." + NUL),
    query("stream types", "/api/v1/stream", "types", types=NUL),
    query("agent name in the path", "/api/v1/agents/a%00b", "name"),
    bad("schedule name in the path", "POST", "/api/v1/schedules/a%00b/run", None, "name"),
]

NOT_FINITE = [
    bad(
        "Infinity",
        "POST",
        "/api/v1/agents/donna/budget/check",
        {"estimated_usd": INF},
        "estimated_usd",
    ),
    bad(
        "NaN",
        "PATCH",
        "/api/v1/agents/donna/budget",
        {"reason": "r", "daily_usd": NAN},
        "daily_usd",
    ),
    bad(
        "-Infinity",
        "POST",
        "/api/v1/actions",
        {"kind": "payment.send", "agent": "donna", "amount_usd": -INF},
        "amount_usd",
    ),
    bad(
        "1e400",
        "POST",
        "/api/v1/approvals",
        b'{"agent": "donna", "capability": "exec", "reason": "r", "minutes": 1e400}',
        "minutes",
        headers=JSON,
    ),
    bad(
        "Infinity in event data",
        "POST",
        "/api/v1/events",
        {"type": "runtime.x", "data": {"x": [1, INF]}},
        "data.x[1]",
    ),
    bad(
        "NaN in batch event data",
        "POST",
        "/api/v1/batch",
        {"events": [{"id": "e1", "type": "runtime.x", "data": {"v": NAN}}]},
        "events[0].data.v",
    ),
    bad(
        "a cooldown of millennia",
        "POST",
        "/api/v1/agents/donna/cooldown",
        {"retry_after_seconds": 173617292498329.5},
        "retry_after_seconds",
    ),
    bad(
        "a restoration longer than a day",
        "POST",
        "/api/v1/approvals",
        {"agent": "donna", "capability": "exec", "reason": "r", "minutes": 1441},
        "minutes",
    ),
    bad(
        "1e20 dollars",
        "POST",
        "/api/v1/agents/donna/budget/check",
        {"estimated_usd": 1e20},
        "estimated_usd",
    ),
    bad(
        "1e300 in event data",
        "POST",
        "/api/v1/events",
        {"type": "runtime.x", "data": {"k": -1e300}},
        "data.k",
    ),
    bad(
        "event data nested too deep",
        "POST",
        "/api/v1/events",
        {"type": "runtime.x", "data": DEEP},
        "data.k" + "[0]" * 31,
    ),
]

DATES = [
    bad(
        "due_at past year 9999 in UTC",
        "POST",
        "/api/v1/tasks",
        {"title": "t", "due_at": "9999-12-31T23:59:59-18:00"},
        "due_at",
    ),
    bad(
        "due_at before year 1 in UTC",
        "PATCH",
        "/api/v1/tasks/1",
        {"due_at": "0001-01-01T00:00:00+18:00"},
        "due_at",
    ),
    bad(
        "due_at as a number",
        "POST",
        "/api/v1/tasks",
        {"title": "t", "due_at": 1700000000},
        "due_at",
    ),
    bad(
        "due_at without an offset",
        "POST",
        "/api/v1/tasks",
        {"title": "t", "due_at": "2030-01-02T03:04:05"},
        "due_at",
    ),
    bad(
        "day as a number",
        "POST",
        "/api/v1/agents/donna/memory",
        {"content": "c", "day": 20240501},
        "day",
    ),
]


def _framing(route: str, kind: str) -> list[Case]:
    """Bodies that are not JSON, the same on FastAPI's routes and on those read by hand."""
    text = {"Content-Type": "text/plain"}
    return [
        Case(f"{kind} malformed", "POST", route, b'{"to": ', 400, "malformed_json", headers=JSON),
        Case(f"{kind} empty", "POST", route, b"", 400, "malformed_json", headers=JSON),
        Case(f"{kind} empty, no type", "POST", route, b"", 400, "malformed_json"),
        Case(
            f"{kind} not UTF-8",
            "POST",
            route,
            b'{"a": "\xff"}',
            400,
            "malformed_json",
            headers=JSON,
        ),
        Case(
            f"{kind} nested too deep",
            "POST",
            route,
            b"[" * 100_000 + b"]" * 100_000,
            400,
            "malformed_json",
            headers=JSON,
        ),
        Case(
            f"{kind} text/plain",
            "POST",
            route,
            b"{}",
            415,
            "unsupported_media_type",
            "Content-Type",
            headers=text,
        ),
        Case(
            f"{kind} no content type",
            "POST",
            route,
            b"{}",
            415,
            "unsupported_media_type",
            "Content-Type",
        ),
    ]


FRAMING = [
    *_framing("/api/v1/messages", "messages"),
    *_framing("/api/v1/agents/donna/nudge", "nudge"),
    *_framing(HEARTBEAT, "heartbeat"),
    *_framing("/api/v1/batch", "batch"),
]


def _due_in_utc(task: dict[str, Any]) -> None:
    assert (task["priority"], task["due_at"]) == ("high", "2030-01-02T01:04:05+00:00"), task


def _same_data(event: dict[str, Any]) -> None:
    assert event["data"] == EDGES, "the data is stored and read back as it was"


EDGES = {
    "max": 2**63 - 1,
    "min": -(2**63),
    "x": 1.5,
    "text": "ünï ☃ 𝄞",
    "deep": json.loads("[" * 31 + "]" * 31),  # as deep as data may nest
}

GOOD = [
    Case(
        "ISO due_at and an enum",
        "POST",
        "/api/v1/tasks",
        {"title": "t", "priority": "high", "due_at": "2030-01-02T03:04:05+02:00"},
        201,
        None,
        check=_due_in_utc,
    ),
    Case(  # a note is the fleet's today's or yesterday's; UTC's date is one in Johannesburg
        "ISO day",
        "POST",
        "/api/v1/agents/donna/memory",
        {"content": "c", "day": datetime.now(UTC).date().isoformat()},
        201,
        None,
    ),
    Case(
        "heartbeat at the bounds",
        "POST",
        HEARTBEAT,
        {
            "status": "working",
            "context_tokens": 100_000_000,
            "ack_messages_through": INT64 - 1,
            "ack_incidents_through": INT32 - 1,
        },
        200,
        None,
    ),
    Case(
        "event data at the bounds",
        "POST",
        "/api/v1/events",
        {"type": "runtime.x", "data": EDGES},
        201,
        None,
        check=_same_data,
    ),
    Case(
        "an integer for a number",
        "POST",
        "/api/v1/agents/donna/cooldown",
        {"retry_after_seconds": 5},
        200,
        None,
    ),
    Case(
        "query at the bounds",
        "GET",
        "/api/v1/tasks",
        None,
        200,
        None,
        params={"status": "inbox", "after_id": str(INT32 - 1)},
    ),
    Case(
        "enum message kind",
        "POST",
        "/api/v1/messages",
        {"to": "donna", "kind": "directive", "body": "b"},
        201,
        None,
    ),
]

CASES = [*OVERFLOW, *STRICT, *NUL_BYTES, *NOT_FINITE, *DATES, *FRAMING, *GOOD]


@pytest.fixture(scope="session")
def server_for(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Server]]:
    """One server per backend for this worker, started when a case first needs it.

    The cases read, or are refused before anything is written, so they share it; on PostgreSQL
    it has a database of its own, not the per-test one that other tests reset.
    """
    servers: dict[str, Server] = {}
    with contextlib.ExitStack() as stack:

        def server(backend: str) -> Server:
            if backend not in servers:
                tmp = tmp_path_factory.mktemp(f"inputs-{backend}")
                if backend == "sqlite":
                    url = f"sqlite+pysqlite:///{tmp / 'mcos.db'}"
                else:
                    url = stack.enter_context(own_postgres_database("inputs"))
                servers[backend] = stack.enter_context(running_server(tmp, url))
            return servers[backend]

        yield server


def _send(client: httpx.Client, case: Case) -> httpx.Response:
    headers = dict(case.headers)
    if case.body is None:
        content = None
    elif isinstance(case.body, bytes):
        content = case.body
    else:
        content = json.dumps(case.body).encode()  # NaN and Infinity as Python writes them
        headers.setdefault("Content-Type", "application/json")
    request = client.build_request(
        case.method, case.path, content=content, params=case.params, headers=headers
    )
    return client.send(request, stream=case.path == "/api/v1/stream")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_input_is_refused_in_the_one_shape_or_accepted(
    server_for: Callable[[str], Server], backend: str, case: Case
) -> None:
    server = server_for(backend)
    with server.client() as client:
        response = _send(client, case)
        try:
            if case.code is None:
                assert response.status_code == case.status, response.read()
                if case.check is not None:
                    case.check(response.json())
                return
            response.read()
        finally:
            response.close()
    error = error_of(response)
    assert (response.status_code, error["code"], error["field"]) == (
        case.status,
        case.code,
        case.field,
    ), error["message"]
    assert error["message"], "the message says what is wrong"
