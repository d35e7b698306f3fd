"""OpenAI Chat Completions through the official SDK; also any compatible endpoint.

Ollama, vLLM and LM Studio speak the same API: point ``base_url`` at them (``.../v1``). The
SDK's own retries are off: a failure comes back at once as a :class:`ProviderError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx2
import openai
import orjson
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)

from mcos.runtime.providers._errors import error_for_status, provider_message
from mcos.runtime.providers.base import (
    ModelReply,
    ModelRequest,
    PermanentProviderError,
    ToolCall,
    ToolSpec,
    TransientProviderError,
    Turn,
    Usage,
)

TOOL_ERROR_PREFIX = "[tool error] "
"""Starts a failed tool's result: Chat Completions has no ``is_error`` flag to carry it."""


class OpenAIProvider:
    """One agent's OpenAI (or compatible) connection, using only the key it was given.

    ``http_client`` must be an ``httpx2.AsyncClient`` (the SDK's HTTP library). The reply limit
    goes as ``max_completion_tokens`` to api.openai.com and as ``max_tokens`` anywhere else,
    because OpenAI's reasoning models accept only the newer name and compatible servers (Ollama)
    know only the older.
    """

    name = "openai"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, http_client=http_client, max_retries=0
        )
        # The SDK falls back to OPENAI_BASE_URL, so ask it where it will really send requests.
        self._compatible_endpoint = self._client.base_url.host != "api.openai.com"

    async def complete(self, request: ModelRequest) -> ModelReply:
        limit_name = "max_tokens" if self._compatible_endpoint else "max_completion_tokens"
        body: dict[str, object] = {
            "model": request.model,
            "messages": to_messages(request.system, request.turns),
            limit_name: request.max_tokens,
        }
        if request.tools:
            body["tools"] = to_tools(request.tools)
        try:
            # The SDK's raw request (``post``, as its README shows for any endpoint): its
            # address, key, headers, timeout and error mapping, without its typed request and
            # reply objects, which walk every message, tool schema and reply field in Python
            # (about 1 ms a call here with six tools, more than the rest of the call). The body
            # is plain JSON already; the reply is read below, each field checked.
            response = await self._client.post(
                "/chat/completions", cast_to=httpx2.Response, content=orjson.dumps(body)
            )
        except openai.APIStatusError as exc:
            raise error_for_status(
                self.name,
                exc.status_code,
                provider_message(exc.body, exc.message),
                exc.response.headers,
            ) from exc
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            raise TransientProviderError(f"{self.name} unreachable: {exc.message}") from exc
        except openai.OpenAIError as exc:
            raise PermanentProviderError(f"{self.name} call failed: {exc}") from exc
        try:
            return _reply(orjson.loads(response.content))
        except _Unreadable as exc:
            raise PermanentProviderError(f"{self.name} reply could not be read: {exc}") from None
        except orjson.JSONDecodeError as exc:
            raise PermanentProviderError(f"{self.name} reply is not JSON: {exc}") from None

    async def aclose(self) -> None:
        await self._client.close()


def to_tools(tools: Sequence[ToolSpec]) -> list[ChatCompletionFunctionToolParam]:
    """Function tools; empty when none, and then the caller omits ``tools`` altogether."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def to_messages(system: str, turns: Sequence[Turn]) -> list[ChatCompletionMessageParam]:
    """The system prompt first, then one message a turn; tool arguments go as stored, raw."""
    messages: list[ChatCompletionMessageParam] = []
    if system:
        messages.append({"role": "system", "content": system})
    for turn in turns:
        if turn.role == "user":
            messages.append({"role": "user", "content": turn.text})
        elif turn.role == "tool":
            prefix = TOOL_ERROR_PREFIX if turn.is_error else ""
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": turn.tool_call_id or "",
                    "content": prefix + turn.text,
                }
            )
        else:
            messages.append(_assistant_message(turn))
    return messages


def _assistant_message(turn: Turn) -> ChatCompletionAssistantMessageParam:
    message: ChatCompletionAssistantMessageParam = {"role": "assistant"}
    # With tool calls, an empty reply is sent as no content at all, as the API itself does.
    message["content"] = turn.text if turn.text or not turn.tool_calls else None
    if turn.tool_calls:
        calls: list[ChatCompletionMessageFunctionToolCallParam] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in turn.tool_calls
        ]
        message["tool_calls"] = calls
    return message


class _Unreadable(Exception):
    """A reply whose shape is not a chat completion's."""


def _reply(completion: object) -> ModelReply:
    """The reply in a chat completion (the JSON the API answers with)."""
    completion = _object(completion, "the reply")
    choices = completion.get("choices")
    if not choices:
        # Seen from overloaded compatible servers; another try usually answers.
        raise TransientProviderError("openai returned no choices")
    if not isinstance(choices, list):
        raise _Unreadable("choices: expected a list")
    choice = _object(choices[0], "choices[0]")
    message = _object(choice.get("message"), "choices[0].message")
    calls = []
    for n, call in enumerate(message.get("tool_calls") or ()):
        call = _object(call, f"tool_calls[{n}]")
        if call.get("type", "function") != "function":
            continue  # a custom tool's call: none is offered
        function = _object(call.get("function"), f"tool_calls[{n}].function")
        calls.append(
            ToolCall(
                _text(call, "id", f"tool_calls[{n}]"),
                _text(function, "name", f"tool_calls[{n}].function"),
                _text(function, "arguments", f"tool_calls[{n}].function"),
            )
        )
    return ModelReply(
        text=_said(message, "content") or _said(message, "refusal"),
        tool_calls=tuple(calls),
        usage=_usage(completion.get("usage")),
        model=str(completion.get("model") or ""),
        stop_reason=str(choice.get("finish_reason") or ""),
    )


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Unreadable(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _text(value: dict[str, Any], key: str, where: str) -> str:
    text = value.get(key)
    if not isinstance(text, str):
        raise _Unreadable(f"{where}.{key}: expected a string")
    return text


def _said(message: dict[str, Any], key: str) -> str:
    said = message.get(key)
    if said is not None and not isinstance(said, str):
        raise _Unreadable(f"choices[0].message.{key}: expected a string")
    return said or ""


def _tokens(value: object, where: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Unreadable(f"{where}: expected a number of tokens")
    return value


def _usage(usage: object) -> Usage:
    if usage is None:  # some compatible servers leave usage out
        return Usage(input_tokens=0, output_tokens=0)
    usage = _object(usage, "usage")
    details = usage.get("prompt_tokens_details")
    cached = (
        _tokens(_object(details, "usage.prompt_tokens_details").get("cached_tokens"), "cached")
        if details is not None
        else 0
    )
    prompt = _tokens(usage.get("prompt_tokens"), "usage.prompt_tokens")
    return Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=_tokens(usage.get("completion_tokens"), "usage.completion_tokens"),
        cache_read_tokens=cached,
    )
