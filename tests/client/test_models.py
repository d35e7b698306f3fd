"""The models of ``mcos.contract.agent`` read what a real control plane answers, key for key.

Each answer is parsed and must leave nothing in ``model_extra``: a key the server sends that the
contract does not name is a contract out of date (add it to the model).
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from mcos.contract.agent import (
    Approval,
    Comment,
    Decision,
    Event,
    HeartbeatAnswer,
    Incident,
    MemoryNote,
    Message,
    Principal,
    Task,
    Usage,
)
from tests.fixtures.server import Server

M = TypeVar("M", bound=BaseModel)


def exact(model: type[M], body: Any) -> M:
    """``body`` as ``model``, with no key the model does not declare (at any depth)."""
    parsed = model.model_validate(body)
    _no_extra(parsed, model.__name__)
    return parsed


def _no_extra(value: Any, where: str) -> None:
    if isinstance(value, BaseModel):
        assert not value.model_extra, f"{where} has undeclared keys {sorted(value.model_extra)}"
        for name in type(value).model_fields:
            _no_extra(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for item in value:
            _no_extra(item, where)


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def test_models_read_real_answers(plane: Server, tokens: dict[str, str]) -> None:
    with (
        plane.client() as op,
        plane.client(tokens["flow"]) as flow,
        plane.client(tokens["jarvis"]) as jarvis,
        plane.client(tokens["vega"]) as vega,
    ):
        walk_the_api(op, flow, jarvis, vega)


def walk_the_api(
    op: httpx.Client, flow: httpx.Client, jarvis: httpx.Client, vega: httpx.Client
) -> None:

    me = exact(Principal, ok(flow.get("/api/v1/tokens/current")))
    assert (me.kind, me.agent, me.acting_as) == ("agent", "flow", "agent:flow")

    created = exact(Task, ok(jarvis.post("/api/v1/tasks", json={"title": "m", "assignee": "flow"})))
    assert created.status == "assigned" and created.depends_on == []
    ok(op.post("/api/v1/messages", json={"to": "flow", "kind": "directive", "body": "go"}))
    beat = exact(
        HeartbeatAnswer,
        ok(
            flow.post(
                "/api/v1/agents/flow/heartbeat", json={"status": "working", "context_tokens": 5_000}
            )
        ),
    )
    assert beat.gauge is not None and beat.gauge.tokens == 5_000
    assert created.id in [t.id for t in beat.tasks]
    assert [d.body for d in beat.directives] == ["go"]

    listed = ok(flow.get("/api/v1/tasks", params={"assignee": "flow"}))["tasks"]
    assert [exact(Task, t).id for t in listed] == [created.id]
    moved = exact(
        Task, ok(flow.post(f"/api/v1/tasks/{created.id}/move", json={"status": "in_progress"}))
    )
    assert moved.status == "in_progress"
    comment = exact(
        Comment, ok(flow.post(f"/api/v1/tasks/{created.id}/comments", json={"body": "on it"}))
    )
    assert comment.task == created.id
    full = exact(Task, ok(flow.get(f"/api/v1/tasks/{created.id}")))
    assert [e.type for e in full.history] == ["task.created", "task.moved", "task.commented"]

    allowed = exact(
        Decision, ok(flow.post("/api/v1/actions", json={"kind": "file.write", "paths": ["/tmp/x"]}))
    )
    assert allowed.outcome == "allow"
    asked = exact(
        Decision,
        ok(
            vega.post(
                "/api/v1/actions",
                json={"kind": "payment.send", "amount_usd": 5_000, "recipient": "acme"},
            )
        ),
    )
    assert asked.outcome == "ask" and asked.approval_id is not None
    pending = exact(Approval, ok(vega.get(f"/api/v1/approvals/{asked.approval_id}")))
    assert not pending.settled
    approved = exact(
        Approval,
        ok(op.post(f"/api/v1/approvals/{asked.approval_id}/approve", json={"comment": "fine"})),
    )
    assert approved.status == "approved" and approved.decisions[0].comment == "fine"
    restore = exact(
        Approval, ok(flow.post("/api/v1/approvals", json={"capability": "exec", "reason": "build"}))
    )
    assert restore.kind == "capability.restore"

    incident = exact(
        Incident,
        ok(
            flow.post(
                "/api/v1/incidents", json={"severity": "P2", "title": "disk full", "body": "/var"}
            )
        ),
    )
    assert incident.status == "unconfirmed" and incident.approval_id is not None
    usage = exact(
        Usage,
        ok(
            flow.post(
                "/api/v1/agents/flow/usage", json={"input_tokens": 1_000, "output_tokens": 100}
            )
        ),
    )
    assert usage.cost_usd is not None and usage.cost_usd > 0
    note = exact(
        MemoryNote, ok(flow.post("/api/v1/agents/flow/memory", json={"content": "remember"}))
    )
    assert note.chars == len("remember")
    read = ok(flow.get("/api/v1/agents/flow/memory"))["notes"]
    assert [exact(MemoryNote, n).content for n in read] == ["remember"]
    message = exact(
        Message, ok(flow.post("/api/v1/messages", json={"to": "jarvis", "body": "hello"}))
    )
    assert message.scope == "agent"
    events = ok(op.get("/api/v1/events", params={"limit": 50}))["events"]
    assert [exact(Event, e).seq for e in events] == sorted(e["seq"] for e in events)
