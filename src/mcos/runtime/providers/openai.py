"""OpenAI Chat Completions through the official SDK; also any compatible endpoint.

Ollama, vLLM and LM Studio speak the same API: point ``base_url`` at them (``.../v1``). The
SDK's own retries are off: a failure comes back at once as a :class:`ProviderError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx2
import openai
from openai.types import CompletionUsage
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
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
        limit = request.max_tokens
        try:
            # The conversation and the tools go through ``extra_body``, which the SDK sends as
            # given: they are plain JSON already, and ``create`` would otherwise walk every
            # message and schema against its TypedDicts first (about 1 ms a call with six
            # tools, measured, more than the rest of the call). ``messages=[]`` is replaced.
            body: dict[str, object] = {"messages": to_messages(request.system, request.turns)}
            if request.tools:
                body["tools"] = to_tools(request.tools)
            completion = await self._client.chat.completions.create(
                model=request.model,
                messages=[],
                max_tokens=limit if self._compatible_endpoint else openai.omit,
                max_completion_tokens=openai.omit if self._compatible_endpoint else limit,
                extra_body=body,
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
        except openai.OpenAIError as exc:  # a reply the SDK could not read, say
            raise PermanentProviderError(f"{self.name} call failed: {exc}") from exc
        if not completion.choices:
            # Seen from overloaded compatible servers; another try usually answers.
            raise TransientProviderError(f"{self.name} returned no choices")
        choice = completion.choices[0]
        message = choice.message
        calls = tuple(
            ToolCall(call.id, call.function.name, call.function.arguments)
            for call in message.tool_calls or ()
            if isinstance(call, ChatCompletionMessageFunctionToolCall)
        )
        return ModelReply(
            text=message.content or message.refusal or "",
            tool_calls=calls,
            usage=_usage(completion.usage),
            model=completion.model,
            stop_reason=choice.finish_reason or "",
        )

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


def _usage(usage: CompletionUsage | None) -> Usage:
    if usage is None:  # some compatible servers leave usage out
        return Usage(input_tokens=0, output_tokens=0)
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    return Usage(
        input_tokens=max(usage.prompt_tokens - cached, 0),
        output_tokens=usage.completion_tokens,
        cache_read_tokens=cached,
    )
