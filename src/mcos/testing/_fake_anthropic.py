"""``POST /v1/messages``: the Anthropic Messages API, answered by the script.

Checks what the real API would refuse and a provider could get wrong: the headers, empty text
blocks, and every ``tool_use`` answered by a ``tool_result`` in the very next message.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcos.runtime.providers.base import ModelRequest, ToolCall, ToolSpec, Turn
from mcos.testing._fake_server import (
    FakeState,
    RequestNotes,
    WireError,
    bearer_key,
    expect,
    read_json_object,
)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


async def create_message(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    # The API takes the key as ``x-api-key``; SDK 2.x sends ``Authorization: Bearer`` instead.
    notes = RequestNotes("anthropic", request.headers.get("x-api-key") or bearer_key(request))
    try:
        response: Response = JSONResponse(await _answer(request, state, notes))
    except WireError as exc:
        response = error_response(exc)
    state.record(notes.recorded(response.status_code))
    return response


def error_response(error: WireError) -> JSONResponse:
    kind = _ERROR_TYPES.get(
        error.status, "api_error" if error.status >= 500 else "invalid_request_error"
    )
    body = {"type": "error", "error": {"type": kind, "message": error.message}}
    return JSONResponse(body, status_code=error.status, headers=error.headers())


async def _answer(request: Request, state: FakeState, notes: RequestNotes) -> dict[str, Any]:
    if not notes.key:
        raise WireError(401, "x-api-key header is required")
    expect(bool(request.headers.get("anthropic-version")), "anthropic-version: header is required")
    body = await read_json_object(request)
    model_request, cacheable = to_model_request(body, notes)
    reply = state.answer(notes, model_request, id_prefix="toolu_")
    split = state.split_cache(notes, model_request, reply.prompt_tokens, cacheable=cacheable)
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        content.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)}
        )
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model_request.model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": split.uncached,
            "output_tokens": reply.output_tokens,
            "cache_creation_input_tokens": split.written,
            "cache_read_input_tokens": split.read,
        },
    }


def to_model_request(body: Mapping[str, Any], notes: RequestNotes) -> tuple[ModelRequest, bool]:
    """The neutral request, and whether the system prompt asked to be cached."""
    model, max_tokens, messages = body.get("model"), body.get("max_tokens"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise WireError(400, "model: Field required")
    notes.model = model
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise WireError(400, "max_tokens: Field required")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "messages: Field required")
    notes.message_count = len(messages)
    tools = _tools(body.get("tools", []))
    notes.tools = tuple(tool.name for tool in tools)
    system, cacheable = _system(body.get("system", ""))
    request = ModelRequest(model, system, _turns(messages), tools, max_tokens)
    return request, cacheable


def _system(system: object) -> tuple[str, bool]:
    if isinstance(system, str):
        return system, False
    if not isinstance(system, list):
        raise WireError(400, "system: Input should be a string or a list of text blocks")
    texts, cacheable = [], False
    for n, block in enumerate(system):
        expect(_is_text_block(block), f"system.{n}: text content blocks must be non-empty")
        texts.append(block["text"])
        cacheable = cacheable or block.get("cache_control") is not None
    return "\n".join(texts), cacheable


def _tools(tools: object) -> tuple[ToolSpec, ...]:
    if not isinstance(tools, list):
        raise WireError(400, "tools: Input should be a valid list")
    specs = []
    for n, tool in enumerate(tools):
        expect(
            isinstance(tool, dict)
            and isinstance(tool.get("name"), str)
            and isinstance(tool.get("input_schema"), dict),
            f"tools.{n}: a tool needs a name and an input_schema object",
        )
        specs.append(ToolSpec(tool["name"], str(tool.get("description", "")), tool["input_schema"]))
    return tuple(specs)


def _turns(messages: list[Any]) -> tuple[Turn, ...]:
    turns: list[Turn] = []
    awaiting: dict[str, int] = {}  # tool_use id -> index of the message that made the call
    for n, message in enumerate(messages):
        expect(isinstance(message, dict), f"messages.{n}: Input should be an object")
        role, content = message.get("role"), message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        expect(isinstance(content, list), f"messages.{n}.content: Field required")
        if role == "assistant":
            _expect_answered(awaiting)
            turn = _assistant_turn(content, f"messages.{n}")
            awaiting = {call.id: n for call in turn.tool_calls}
            turns.append(turn)
        elif role == "user":
            turns.extend(_user_turns(content, f"messages.{n}", awaiting))
            _expect_answered(awaiting)
        else:
            raise WireError(400, f"messages.{n}.role: Input should be 'user' or 'assistant'")
    _expect_answered(awaiting)
    return tuple(turns)


def _assistant_turn(content: list[Any], where: str) -> Turn:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for n, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_use":
            expect(
                isinstance(block.get("id"), str)
                and isinstance(block.get("name"), str)
                and isinstance(block.get("input"), dict),
                f"{where}.content.{n}: tool_use needs an id, a name and an input object",
            )
            calls.append(ToolCall(block["id"], block["name"], json.dumps(block["input"])))
        else:
            expect(
                _is_text_block(block), f"{where}.content.{n}: text content blocks must be non-empty"
            )
            texts.append(block["text"])
    return Turn("assistant", "".join(texts), tuple(calls))


def _user_turns(content: list[Any], where: str, awaiting: dict[str, int]) -> list[Turn]:
    turns: list[Turn] = []
    texts: list[str] = []
    for n, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            expect(not texts, f"{where}.content.{n}: tool_result blocks must come before text")
            call_id = block.get("tool_use_id")
            expect(
                isinstance(call_id, str) and awaiting.pop(call_id, None) is not None,
                f"{where}.content.{n}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{call_id}. Each `tool_result` block must have a corresponding `tool_use` block "
                "in the previous message.",
            )
            is_error = block.get("is_error", False)
            expect(isinstance(is_error, bool), f"{where}.content.{n}.is_error: must be a boolean")
            turns.append(
                Turn("tool", _result_text(block.get("content", ""), where), (), call_id, is_error)
            )
        else:
            expect(
                _is_text_block(block), f"{where}.content.{n}: text content blocks must be non-empty"
            )
            texts.append(block["text"])
    if texts:
        turns.append(Turn("user", "\n".join(texts)))
    return turns


def _expect_answered(awaiting: dict[str, int]) -> None:
    if awaiting:
        where = min(awaiting.values())
        raise WireError(
            400,
            f"messages.{where}: `tool_use` ids were found without `tool_result` blocks "
            f"immediately after: {', '.join(awaiting)}. Each `tool_use` block must have a "
            "corresponding `tool_result` block in the next message.",
        )


def _result_text(content: object, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not all(_is_text_block(b) for b in content):
        raise WireError(400, f"{where}: tool_result content must be a string or text blocks")
    return "".join(block["text"] for block in content)


def _is_text_block(block: object) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
        and bool(block["text"])
    )


def _input(arguments: str) -> object:
    """The call's input object; arguments that are not one go out raw, as a broken model's."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments
    return parsed if isinstance(parsed, dict) else arguments
