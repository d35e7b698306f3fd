"""The OpenAPI document describes what the API really takes and answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcos.api.app import create_app
from mcos.contract.requests import HeartbeatIn
from mcos.contract.vocab import EVENT_TYPES
from mcos.fleet.loader import template_text
from mcos.inputs import INT64_MAX
from mcos.settings import Settings


def _openapi(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "fleet.toml").write_text(template_text())
    app = create_app(Settings(fleet=tmp_path / "fleet.toml"))
    schema: dict[str, Any] = app.openapi()
    app.state.store.db.dispose()
    return schema


def _resolve(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    found: dict[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_every_ref_resolves_and_errors_have_the_one_shape(tmp_path: Path) -> None:
    schema = _openapi(tmp_path)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                _resolve(schema, node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert "HTTPValidationError" not in str(schema), "FastAPI's error shape is not ours"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {s: r for s, r in operation["responses"].items() if int(s) >= 400}
            assert {"408", "500"} <= errors.keys(), (method, path)
            for status, response in errors.items():
                error = response["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
            if path == "/api/v1/health":
                continue
            if operation.get("parameters") or "requestBody" in operation or "security" in operation:
                assert "422" in errors, (method, path)
            if path == "/api/v1/dashboard/session" and method in ("post", "delete"):
                # Sign-in takes the token in its body; sign-out only clears the cookie.
                assert "security" not in operation, (method, path)
                continue
            assert operation.get("security") == [{"HTTPBearer": []}], (method, path)


def test_the_hand_parsed_heartbeat_is_documented(tmp_path: Path) -> None:
    schema = _openapi(tmp_path)
    post = schema["paths"]["/api/v1/agents/{name}/heartbeat"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = _resolve(schema, ref)
    assert set(body["properties"]) == set(HeartbeatIn.model_fields)
    assert schema["paths"]["/api/v1/stream"]["get"]["responses"]["200"]["content"].keys() >= {
        "text/event-stream"
    }


def test_every_integer_parameter_is_bounded_by_its_column(tmp_path: Path) -> None:
    """A path or query integer past its column is a 422, not an overflow in the driver."""
    schema = _openapi(tmp_path)
    unbounded = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                options = parameter["schema"].get("anyOf", [parameter["schema"]])
                for option in options:
                    if option.get("type") != "integer":
                        continue
                    if "minimum" not in option or option.get("maximum", 2**63) > INT64_MAX:
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []


def test_every_success_has_a_schema(tmp_path: Path) -> None:
    """A generated client is typed: every 2xx body is described, not only its status."""
    schema = _openapi(tmp_path)
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2") or status == "204" or response.get("x-empty-body"):
                    continue  # no body (MCP's 202 for a notification says so)
                content = response.get("content", {})
                if not content or any("schema" not in media for media in content.values()):
                    missing.append(f"{method.upper()} {path} {status}")
                json_body = content.get("application/json", {}).get("schema", {})
                if json_body:
                    assert "$ref" in json_body, (method, path, status, json_body)
                    _resolve(schema, json_body["$ref"])
    assert missing == []


def _errors(schema: dict[str, Any], method: str, path: str) -> set[int]:
    responses = schema["paths"][path][method]["responses"]
    return {int(status) for status in responses if int(status) >= 400}


def test_each_operation_lists_the_errors_it_really_answers(tmp_path: Path) -> None:
    schema = _openapi(tmp_path)
    body_errors = {400, 413, 415}
    # A list read by id-less query: no 404 for an id, no conflict, no body, no write to refuse.
    listed = _errors(schema, "get", "/api/v1/agents")
    assert listed == {401, 403, 408, 422, 500}
    # One by id: 404 too.
    assert _errors(schema, "get", "/api/v1/agents/{name}") == listed | {404}
    # A Kanban move: its body, the id, the rules (409) and the writer (503).
    move = _errors(schema, "post", "/api/v1/tasks/{task_id}/move")
    assert move >= body_errors | {404, 409, 503}
    # Editing a task's fields has no rule to break: no 409.
    assert 409 not in _errors(schema, "patch", "/api/v1/tasks/{task_id}")
    # Raw bytes, not JSON: too large, but never "not JSON".
    upload = _errors(schema, "post", "/api/v1/tasks/{task_id}/artifacts")
    assert 413 in upload and not upload & {400, 415}
    # No token, no input: only the server's own failures.
    assert _errors(schema, "get", "/api/v1/health") == {408, 500}
    distinct = {
        frozenset(_errors(schema, method, path))
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert len(distinct) >= 8, "error statuses are declared per operation, not one list for all"


def test_the_stream_lists_its_event_types(tmp_path: Path) -> None:
    schema = _openapi(tmp_path)
    ok = schema["paths"]["/api/v1/stream"]["get"]["responses"]["200"]
    types = ok["x-event-types"]
    assert types == list(EVENT_TYPES)
    assert {"task.moved", "incident.raised", "agent.heartbeat", "stream.resync"} <= set(types)
    frame = ok["content"]["text/event-stream"]["itemSchema"]
    assert set(_resolve(schema, frame["$ref"])["properties"]) == {
        "seq",
        "ts",
        "type",
        "actor",
        "subject",
        "data",
    }
