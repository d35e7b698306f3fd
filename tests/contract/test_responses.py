"""Every answer a running control plane gives matches the contract its route declares.

Each operation of the authorization matrix is tried again (as the agent it is about, as its
machine's runner and as an operator, on the matrix's own fleet and requests), plus the requests
that reach the success of operations the matrix only sees refused. Every status answered must be
one the operation lists in ``/openapi.json``; every 2xx body must validate, strictly, against the
model the route declares (``mcos.contract``), and carry no key the model does not name, at any
depth: a client generated from the document, or ``mcos.client``, reads all of it.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

import docx
import httpx
import pytest
from pydantic import BaseModel, ValidationError

from mcos.contract import agent, fleet, mail, mcp, otlp, work
from tests.security.test_authorization import RULES, Fixture, _request, world

__all__ = ["world"]  # the matrix's fleet and resources, reused (a module-scoped fixture)

CALLERS = ("self", "runner_own", "operator")
NOT_JSON = {
    "GET /api/v1/stream",
    "GET /api/v1/tasks/{task_id}/artifacts/{artifact_id}/content",
    "GET /metrics",
}


MODELS: dict[str, type[BaseModel]] = {
    name: value
    for module in (agent, fleet, mail, mcp, otlp, work)
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, BaseModel)
}
"""The contract's response models by name, as ``/openapi.json`` names its components."""


@dataclass
class Contract:
    """The OpenAPI document of the running control plane, and the statuses seen per operation."""

    spec: dict[str, Any]
    seen: dict[str, set[int]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def contract(world: Fixture) -> Contract:
    with world.server.client() as operator:
        return Contract(operator.get("/openapi.json").json())


def _undocumented(value: Any, where: str = "") -> list[str]:
    """Keys a validated answer carried that its model does not name (``extra="allow"`` keeps
    them in ``model_extra``), at any depth."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{where}.{key}" for key in value.model_extra or {}]
        for name in type(value).model_fields:
            found += _undocumented(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _undocumented(item, f"{where}[{i}]")
    return found


def _model(operation: dict[str, Any], status: int) -> type[BaseModel]:
    """The model the document declares for this success (its component, by name)."""
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[1]
    assert name in MODELS, f"{name} is not a model of mcos.contract"
    return MODELS[name]


def check(contract: Contract, key: str, response: httpx.Response) -> None:
    """The answer's status is documented; a success validates against the route's model."""
    method, path = key.split(" ", 1)
    operation = contract.spec["paths"][path][method.lower()]
    documented = operation["responses"]
    assert str(response.status_code) in documented, (
        f"{key} answered {response.status_code}, which its operation does not list "
        f"({sorted(documented)}): {response.text[:300]}"
    )
    contract.seen.setdefault(key, set()).add(response.status_code)
    if not 200 <= response.status_code < 300 or response.status_code == 204 or key in NOT_JSON:
        return
    model = _model(operation, response.status_code)
    answer = model.model_validate_json(response.content, strict=True)
    assert _undocumented(answer) == [], f"{key}: keys its model {model.__name__} does not name"


def _call(world: Fixture, caller: str, key: str, **override: Any) -> httpx.Response:
    method, path, request = _request(world, key)
    request |= override
    headers = {"Authorization": f"Bearer {world.tokens[caller]}"}
    if caller.startswith("runner"):
        headers["X-MCOS-Agent"] = "flow"
    with httpx.Client(base_url=world.server.url, timeout=30, headers=headers) as client:
        return client.request(method, path, **request)


def _successes_the_matrix_only_sees_refused(world: Fixture, contract: Contract) -> None:
    """Compaction after a flush, resume after suspend, a rotation, the dashboard's session, a
    service going down and back, a heartbeat with its gauge, an action that needs approval, a
    legal check of a real .docx."""
    operator, flow = "operator", "self"
    check(
        contract,
        "POST /api/v1/agents/{name}/memory",
        _call(world, flow, "POST /api/v1/agents/{name}/memory"),
    )
    compacted = _call(world, flow, "POST /api/v1/agents/{name}/compactions")
    assert compacted.status_code == 201, compacted.text
    check(contract, "POST /api/v1/agents/{name}/compactions", compacted)
    heartbeat = _call(
        world,
        flow,
        "POST /api/v1/agents/{name}/heartbeat",
        json={"status": "working", "context_tokens": 50_000, "note": "contract"},
    )
    assert heartbeat.status_code == 200 and heartbeat.json()["gauge"] is not None
    check(contract, "POST /api/v1/agents/{name}/heartbeat", heartbeat)
    # The matrix tried resume (refused: not suspended) before suspend; Flow is suspended now.
    resumed = _call(world, operator, "POST /api/v1/agents/{name}/resume")
    assert resumed.status_code == 200, resumed.text
    check(contract, "POST /api/v1/agents/{name}/resume", resumed)
    with httpx.Client(
        base_url=world.server.url,
        headers={"Authorization": f"Bearer {world.server.operator_token}"},
        timeout=30,
    ) as client:
        spare = client.post("/api/v1/tokens", json={"kind": "operator", "label": "operator"})
        check(contract, "POST /api/v1/tokens", spare)
        rotated = client.post(f"/api/v1/tokens/{spare.json()['id']}/rotate", json={})
        assert rotated.status_code == 201, rotated.text
        check(contract, "POST /api/v1/tokens/{token_id}/rotate", rotated)
        for key, body in (
            ("GET /api/v1/agents/{name}", None),
            ("GET /api/v1/dashboard/agents/{name}", None),
            ("GET /api/v1/dashboard/snapshot", None),
        ):
            method, path, _ = _request(world, key)
            check(contract, key, client.request(method, path, json=body))
        # A payment past Vega's limit waits for a person: the other success of /actions.
        asked = client.post(
            "/api/v1/actions",
            json={"kind": "payment.send", "amount_usd": 1_000_000, "agent": "vega"},
        )
        assert asked.status_code == 202, asked.text
        check(contract, "POST /api/v1/actions", asked)
        document = docx.Document()
        document.add_paragraph("Velocity Fibre (Pty) Ltd confirms its compliance.")
        out = io.BytesIO()
        document.save(out)
        checked = client.post(
            "/api/v1/legal/check",
            json={
                "template": "compliance-letter",
                "parties": {"sender": "velocity-fibre", "addressee": "specter-holdings"},
                "content_base64": base64.b64encode(out.getvalue()).decode(),
            },
        )
        assert checked.status_code == 200, checked.text
        check(contract, "POST /api/v1/legal/check", checked)
    with httpx.Client(base_url=world.server.url, timeout=30) as browser:
        signed_in = browser.post(
            "/api/v1/dashboard/session", json={"token": world.server.operator_token}
        )
        check(contract, "POST /api/v1/dashboard/session", signed_in)
        who = browser.get("/api/v1/dashboard/session")
        assert who.status_code == 200, who.text
        check(contract, "GET /api/v1/dashboard/session", who)
    for state, at in (("down", "2026-11-28T03:00:00Z"), ("up", "2026-11-28T03:05:00Z")):
        changed = _call(
            world,
            "runner_own",
            "POST /api/v1/services/{name}/state",
            json={"state": state, "at": at, "detail": "probe", "diagnosis": "log lines"},
        )
        assert changed.status_code == 200, changed.text
        check(contract, "POST /api/v1/services/{name}/state", changed)
    check(
        contract, "GET /api/v1/services/{name}", _call(world, flow, "GET /api/v1/services/{name}")
    )


def test_every_operation_answers_as_its_contract_says(world: Fixture, contract: Contract) -> None:
    problems = []
    for key in sorted(set(RULES) - {"GET /api/v1/stream"}):
        for caller in CALLERS:
            try:
                check(contract, key, _call(world, caller, key))
            except (AssertionError, ValidationError) as problem:
                problems.append(f"{key} as {caller}: {problem}"[:2_000])
    assert problems == [], "\n\n".join(problems)
    _successes_the_matrix_only_sees_refused(world, contract)
    refused_here = {
        # Flow's mailbox may not send: whoever reports a send is refused (tests/mail has those).
        "POST /api/v1/mail/drafts/{draft_id}/sent",
        "POST /api/v1/mail/drafts/{draft_id}/failed",
    }
    never = sorted(
        key
        for key in set(RULES) - {"GET /api/v1/stream"} - refused_here
        if not any(200 <= s < 300 for s in contract.seen.get(key, ()))
    )
    assert never == [], "operations whose success no check validated"
