"""Every field of every request body is strict and bounded, field by field, so that a field added
later cannot forget it: each integer, number, bool, string and free-form value refuses what the
wire must not carry, read from JSON as FastAPI reads it (Python mode) and as the hand-parsed
routes do (JSON mode)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mcos.contract import requests
from mcos.inputs import INT64_MAX

MODELS = sorted(
    (
        model
        for model in vars(requests).values()
        if isinstance(model, type)
        and issubclass(model, requests._Input)
        and model is not requests._Input
    ),
    key=lambda model: model.__name__,
)


def _leaf(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """(JSON type, its schema, whether inside an array) of a property; "" for enums and models."""
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    assert len(options) == 1, schema
    leaf = options[0]
    if "$ref" in leaf:
        return "", leaf, False
    if leaf.get("type") == "array":
        kind, inner, _ = _leaf(leaf["items"], defs)
        return kind, inner, True
    if "enum" in leaf or "const" in leaf:
        return "", leaf, False
    return leaf["type"], leaf, False


BAD: dict[str, list[Any]] = {
    "integer": ["1", True, 1.0, 12.5],
    "number": ["1", True, float("inf"), float("nan"), float("-inf"), 1e300],
    "boolean": [1, 0, "true", "yes"],
    "string": ["a\x00b", "\ud800"],
    "object": [{"k": "a\x00b"}, {"k": [float("nan")]}, {"k": 2**64}, {"k": -1e300}, {"a\x00": 1}],
}


def _fields() -> list[tuple[type[BaseModel], str, str, dict[str, Any], bool]]:
    found = []
    for model in MODELS:
        schema = model.model_json_schema()
        for name, prop in schema["properties"].items():
            kind, leaf, in_array = _leaf(prop, schema.get("$defs", {}))
            if kind:
                found.append((model, name, kind, leaf, in_array))
    return found


FIELDS = _fields()


def _refused_at(model: type[BaseModel], name: str, value: Any, in_array: bool) -> bool:
    """Whether both readings refuse ``value`` for the field (or, in JSON, as not JSON at all)."""
    payload = {name: [value] if in_array else value}
    where = (name, 0) if in_array else (name,)
    for validate in (
        lambda: model.model_validate(payload),
        lambda: model.model_validate_json(json.dumps(payload)),
    ):
        try:
            validate()
        except ValidationError as exc:
            # A problem inside a value says where past the field, as the API's ``field`` does.
            if not any(
                (*e["loc"], *e.get("ctx", {}).get("at", ()))[: len(where)] == where
                or e["type"] == "json_invalid"
                for e in exc.errors()
            ):
                return False
        else:
            return False
    return True


@pytest.mark.parametrize(
    ("model", "name", "kind", "leaf", "in_array"),
    FIELDS,
    ids=[f"{model.__name__}.{name}" for model, name, *_ in FIELDS],
)
def test_each_field_refuses_what_cannot_be_stored_or_is_the_wrong_type(
    model: type[BaseModel], name: str, kind: str, leaf: dict[str, Any], in_array: bool
) -> None:
    if kind in ("integer", "number"):
        # Integers by their column; numbers below 2**63, past which JSONB gives back integers
        # no JSON encoder takes.
        bounded_below = "minimum" in leaf or "exclusiveMinimum" in leaf
        assert bounded_below and leaf.get("maximum", INT64_MAX + 1) <= INT64_MAX, (
            f"{model.__name__}.{name} must be bounded by where it is stored"
        )
    for value in BAD[kind] + ([leaf["maximum"] + 1] if kind == "integer" else []):
        assert _refused_at(model, name, value, in_array), (
            f"{model.__name__}.{name} accepts {value!r}"
        )


def test_every_input_model_is_checked() -> None:
    assert len(MODELS) > 20
    kinds = {kind for _, _, kind, _, _ in FIELDS}
    assert kinds == set(BAD), "each kind of scalar is exercised"
