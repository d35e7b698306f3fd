"""``POST /v1/chat/completions``: OpenAI Chat Completions, answered by the script.

Checks what the real API would refuse and a provider could get wrong: the bearer key, an empty
``tools`` list, and every assistant tool call answered by a ``tool`` message right after it.
"""

from __future__ import annotations

import time
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
    read_json_object,
)

_ERROR_KINDS = {  # status -> (type, code), as the real API answers
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


async def create_chat_completion(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    notes = RequestNotes("openai", bearer_key(request))
    try:
        response: Response = JSONResponse(await _answer(request, state, notes))
    except WireError as exc:
        response = error_response(exc)
    state.record(notes.recorded(response.status_code))
    return response


def error_response(error: WireError) -> JSONResponse:
    default = ("server_error", None) if error.status >= 500 else ("invalid_request_error", None)
    kind, code = _ERROR_KINDS.get(error.status, default)
    body = {"error": {"message": error.message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=error.status, headers=error.headers())


async def _answer(request: Request, state: FakeState, notes: RequestNotes) -> dict[str, Any]:
    if not notes.key:
        raise WireError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    body = await read_json_object(request)
    model_request = to_model_request(body, notes)
    reply = state.answer(notes, model_request, id_prefix="call_")
    # OpenAI caches prompt prefixes by itself, without being asked.
    split = state.split_cache(notes, model_request, reply.prompt_tokens, cacheable=True)
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in reply.tool_calls
        ]
    prompt_tokens = split.uncached + split.read + split.written
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_request.model,
        "system_fingerprint": "fp_mcos_fake",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": prompt_tokens + reply.output_tokens,
            "prompt_tokens_details": {"cached_tokens": split.read, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }


def to_model_request(body: Mapping[str, Any], notes: RequestNotes) -> ModelRequest:
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise WireError(400, "you must provide a model parameter")
    notes.model = model
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "[] is too short - 'messages'")
    notes.message_count = len(messages)
    tools = _tools(body)
    notes.tools = tuple(tool.name for tool in tools)
    system, turns = _conversation(messages)
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or 4_096
    if not isinstance(limit, int):
        raise WireError(400, "max_completion_tokens: expected an integer")
    return ModelRequest(model, system, turns, tools, limit)


def _tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    if "tools" not in body:
        return ()
    tools = body["tools"]
    if not isinstance(tools, list) or not tools:
        raise WireError(400, "[] is too short - 'tools'")
    specs = []
    for n, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function":
            raise WireError(400, f"tools[{n}]: expected a function tool")
        if not isinstance(function.get("name"), str):
            raise WireError(400, f"tools[{n}].function.name: missing required parameter")
        parameters = function.get("parameters", {})
        specs.append(ToolSpec(function["name"], str(function.get("description", "")), parameters))
    return tuple(specs)


def _conversation(messages: list[Any]) -> tuple[str, tuple[Turn, ...]]:
    system: list[str] = []
    turns: list[Turn] = []
    awaiting: set[str] = set()  # tool call ids the last assistant message is owed answers for
    for n, message in enumerate(messages):
        if not isinstance(message, dict):
            raise WireError(400, f"messages[{n}]: expected an object")
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in awaiting:
                raise WireError(
                    400,
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                )
            awaiting.discard(call_id)
            turns.append(Turn("tool", _text(message, n), (), call_id))
            continue
        if awaiting:
            raise WireError(
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(awaiting))}",
            )
        if role in ("system", "developer"):
            system.append(_text(message, n))
        elif role == "user":
            turns.append(Turn("user", _text(message, n)))
        elif role == "assistant":
            calls = _calls(message.get("tool_calls") or [], n)
            awaiting = {call.id for call in calls}
            turns.append(Turn("assistant", _text(message, n), calls))
        else:
            raise WireError(400, f"messages[{n}].role: unknown role {role!r}")
    if awaiting:
        raise WireError(400, f"tool_call_ids without response messages: {sorted(awaiting)}")
    return "\n".join(system), tuple(turns)


def _calls(calls: object, n: int) -> tuple[ToolCall, ...]:
    if not isinstance(calls, list):
        raise WireError(400, f"messages[{n}].tool_calls: expected an array")
    parsed = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(function, dict)
            or not isinstance(call.get("id"), str)
            or not isinstance(function.get("name"), str)
            or not isinstance(function.get("arguments"), str)
        ):
            raise WireError(
                400,
                f"messages[{n}].tool_calls: each needs an id and a function name and "
                "arguments string",
            )
        parsed.append(ToolCall(call["id"], function["name"], function["arguments"]))
    return tuple(parsed)


def _text(message: dict[str, Any], n: int) -> str:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        for part in content
    ):
        return "".join(part["text"] for part in content)
    raise WireError(400, f"messages[{n}].content: expected a string or text parts")
