"""Reading a :class:`~mcos.runtime.providers.simulated.Script` from a dict, TOML or JSON.

The format, in TOML::

    [[rules]]
    key = "sk-flow"               # optional: the agent's API key
    contains = "deploy"           # optional: substring of a user turn
    agent = "You are Flow"        # optional: substring of the system prompt
    times = 1                     # optional: answer at most this many requests
    [[rules.steps]]
    tool_calls = [{ name = "read_file", arguments = { path = "notes.md" } }]
    [[rules.steps]]
    text = "All read."
    prompt_tokens = 190000        # optional: report this prompt size
    [[rules.steps]]
    error = { status = 429, retry_after = 7, message = "slow down" }

Every mistake raises :class:`InvalidInput` whose ``field`` is the JSON path at fault
(``rules[0].steps[2].error.status``).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcos.errors import InvalidInput
from mcos.runtime.providers.simulated import Rule, ScriptedError, ScriptedToolCall, Step

_RULE_FIELDS = frozenset({"key", "contains", "agent", "times", "steps"})
_STEP_FIELDS = frozenset({"text", "tool_calls", "error", "prompt_tokens"})
_CALL_FIELDS = frozenset({"name", "arguments"})
_ERROR_FIELDS = frozenset({"status", "message", "retry_after"})


def load_script_file(path: Path) -> tuple[Rule, ...]:
    """Rules from a ``.toml`` or ``.json`` file; errors name the file and the field."""
    if path.suffix not in (".toml", ".json"):
        raise InvalidInput(
            f"script file {path} must end in .toml or .json; rename it", field="script"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"cannot read script file {path}: {exc.strerror}", field="script"
        ) from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"script file {path} is not valid {path.suffix[1:].upper()}: {exc}", field="script"
        ) from exc
    try:
        return parse_script(data)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}", field=exc.field) from exc


def parse_script(data: object) -> tuple[Rule, ...]:
    """Rules from ``{"rules": [...]}``."""
    table = _table(data, "script", frozenset({"rules"}))
    rules = table.get("rules", [])
    if not isinstance(rules, list):
        raise InvalidInput(f"rules must be a list of rules, not {_kind(rules)}", field="rules")
    return tuple(_rule(raw, f"rules[{n}]") for n, raw in enumerate(rules))


def _rule(data: object, path: str) -> Rule:
    table = _table(data, path, _RULE_FIELDS)
    steps = table.get("steps", [])
    if not isinstance(steps, list):
        raise InvalidInput(
            f"{path}.steps must be a list of steps, not {_kind(steps)}", field=f"{path}.steps"
        )
    return Rule(
        steps=tuple(_step(raw, f"{path}.steps[{n}]") for n, raw in enumerate(steps)),
        key=_optional_text(table, "key", path),
        contains=_optional_text(table, "contains", path),
        agent=_optional_text(table, "agent", path),
        times=_optional_int(table, "times", path, minimum=1),
    )


def _step(data: object, path: str) -> Step:
    table = _table(data, path, _STEP_FIELDS)
    if not table.keys() & {"text", "tool_calls", "error"}:
        raise InvalidInput(f"{path} needs text, tool_calls or error", field=path)
    if "error" in table and table.keys() & {"text", "tool_calls"}:
        raise InvalidInput(
            f"{path} has an error and a reply; a step either fails or answers", field=path
        )
    text = table.get("text", "")
    if not isinstance(text, str):
        raise InvalidInput(f"{path}.text must be a string, not {_kind(text)}", field=f"{path}.text")
    calls = table.get("tool_calls", [])
    if not isinstance(calls, list) or ("tool_calls" in table and not calls):
        raise InvalidInput(
            f"{path}.tool_calls must be a non-empty list of {{name, arguments}}",
            field=f"{path}.tool_calls",
        )
    return Step(
        text=text,
        tool_calls=tuple(_call(raw, f"{path}.tool_calls[{n}]") for n, raw in enumerate(calls)),
        error=_error(table["error"], f"{path}.error") if "error" in table else None,
        prompt_tokens=_optional_int(table, "prompt_tokens", path, minimum=0),
    )


def _call(data: object, path: str) -> ScriptedToolCall:
    table = _table(data, path, _CALL_FIELDS)
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{path}.name must be a tool name", field=f"{path}.name")
    arguments = table.get("arguments", {})
    if not isinstance(arguments, (dict, str)):
        raise InvalidInput(
            f"{path}.arguments must be a table (or a raw string), not {_kind(arguments)}",
            field=f"{path}.arguments",
        )
    return ScriptedToolCall(name, arguments)


def _error(data: object, path: str) -> ScriptedError:
    table = _table(data, path, _ERROR_FIELDS)
    status = _optional_int(table, "status", path, minimum=400)
    if status is None or status > 599:
        raise InvalidInput(
            f"{path}.status must be an HTTP error status from 400 to 599", field=f"{path}.status"
        )
    message = table.get("message", "")
    if not isinstance(message, str):
        raise InvalidInput(f"{path}.message must be a string", field=f"{path}.message")
    retry_after = table.get("retry_after")
    if retry_after is not None and (
        isinstance(retry_after, bool)
        or not isinstance(retry_after, (int, float))
        or retry_after < 0
    ):
        raise InvalidInput(
            f"{path}.retry_after must be a number of seconds (0 or more), not {retry_after!r}",
            field=f"{path}.retry_after",
        )
    return ScriptedError(status, message, None if retry_after is None else float(retry_after))


def _table(data: object, path: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{path} must be a table/object, not {_kind(data)}", field=path)
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        field = unknown[0] if path == "script" else f"{path}.{unknown[0]}"
        raise InvalidInput(
            f"{field} is not a known field; use one of {', '.join(sorted(allowed))}", field=field
        )
    return data


def _optional_text(table: Mapping[str, Any], name: str, path: str) -> str | None:
    value = table.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidInput(f"{path}.{name} must be a non-empty string", field=f"{path}.{name}")
    return value


def _optional_int(table: Mapping[str, Any], name: str, path: str, *, minimum: int) -> int | None:
    value = table.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(
            f"{path}.{name} must be a whole number of at least {minimum}, not {value!r}",
            field=f"{path}.{name}",
        )
    return value


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
