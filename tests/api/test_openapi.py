"""The OpenAPI document describes what the API really takes and answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcos.api.app import create_app
from mcos.fleet.loader import template_text
from mcos.inputs import INT64_MAX
from mcos.schemas import HeartbeatIn
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
            if path == "/api/v1/health":
                continue
            error = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
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
