"""The Anthropic Messages API, through the official SDK, with prompt caching on.

The system prompt and the tool list carry ``cache_control`` so an agent's fixed prefix is
billed as a cache read from its second call on. The SDK's own retries are off: a failure comes
back at once as a :class:`ProviderError` and the loop decides what to do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anthropic
import httpx2
from anthropic.types import (
    MessageParam,
    TextBlock,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
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

# The API rejects empty text blocks; an empty turn (a runtime slip) should not fail the task.
_EMPTY = "(empty)"

UserBlock = TextBlockParam | ToolResultBlockParam
AssistantBlock = TextBlockParam | ToolUseBlockParam


class AnthropicProvider:
    """One agent's Anthropic connection, using only the key it was given.

    ``http_client`` must be an ``httpx2.AsyncClient`` (the SDK's HTTP library), for tests or a
    proxy; ``base_url`` points at another Messages API endpoint, such as the fake server.
    """

    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, http_client=http_client, max_retries=0
        )

    async def complete(self, request: ModelRequest) -> ModelReply:
        system: list[TextBlockParam] = []
        if request.system:
            system.append(
                {"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}
            )
        try:
            # As for OpenAI: what is plain JSON already goes through ``extra_body``, sent as
            # given, rather than through the SDK's walk of its TypedDicts; ``messages=[]`` is
            # replaced. ``create`` still sets the timeout and headers for the model.
            body: dict[str, object] = {"messages": to_messages(request.turns)}
            if system:
                body["system"] = system
            if request.tools:
                body["tools"] = to_tools(request.tools)
            message = await self._client.messages.create(
                model=request.model, max_tokens=request.max_tokens, messages=[], extra_body=body
            )
        except anthropic.APIStatusError as exc:
            raise error_for_status(
                self.name,
                exc.status_code,
                provider_message(exc.body, exc.message),
                exc.response.headers,
            ) from exc
        except anthropic.APIConnectionError as exc:  # includes APITimeoutError
            raise TransientProviderError(f"{self.name} unreachable: {exc.message}") from exc
        except anthropic.AnthropicError as exc:  # a reply the SDK could not read, say
            raise PermanentProviderError(f"{self.name} call failed: {exc}") from exc
        text = "".join(block.text for block in message.content if isinstance(block, TextBlock))
        calls = tuple(
            ToolCall(block.id, block.name, _arguments_text(block.input))
            for block in message.content
            if isinstance(block, ToolUseBlock)
        )
        usage = message.usage
        return ModelReply(
            text=text,
            tool_calls=calls,
            usage=Usage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_input_tokens or 0,
                cache_write_tokens=usage.cache_creation_input_tokens or 0,
            ),
            model=message.model,
            stop_reason=message.stop_reason or "",
        )

    async def aclose(self) -> None:
        await self._client.close()


def to_tools(tools: Sequence[ToolSpec]) -> list[ToolParam]:
    """Tool specs; the last carries ``cache_control`` so the whole list is cached."""
    params: list[ToolParam] = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]
    if params:
        params[-1]["cache_control"] = {"type": "ephemeral"}
    return params


def to_messages(turns: Sequence[Turn]) -> list[MessageParam]:
    """Turns as alternating messages; tool results (and any text after them) share one."""
    messages: list[MessageParam] = []
    pending: list[UserBlock] = []
    for turn in turns:
        if turn.role == "assistant":
            if pending:
                messages.append({"role": "user", "content": pending})
                pending = []
            messages.append({"role": "assistant", "content": _assistant_blocks(turn)})
        elif turn.role == "tool":
            pending.append(_tool_result(turn))
        else:
            pending.append({"type": "text", "text": turn.text or _EMPTY})
    if pending:
        messages.append({"role": "user", "content": pending})
    return messages


def _assistant_blocks(turn: Turn) -> list[AssistantBlock]:
    blocks: list[AssistantBlock] = []
    if turn.text or not turn.tool_calls:
        blocks.append({"type": "text", "text": turn.text or _EMPTY})
    for call in turn.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)}
        )
    return blocks


def _tool_result(turn: Turn) -> ToolResultBlockParam:
    block: ToolResultBlockParam = {
        "type": "tool_result",
        "tool_use_id": turn.tool_call_id or "",
        "is_error": turn.is_error,
    }
    if turn.text:
        block["content"] = turn.text
    return block


def _input(arguments: str) -> dict[str, object]:
    """The stored arguments as the object the API requires; ``{}`` if they are not one.

    The model already saw its malformed call answered with an error; replaying the bad text is
    impossible here, since ``input`` must be an object.
    """
    try:
        parsed: Any = json.loads(arguments)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _arguments_text(value: object) -> str:
    # The API always sends an object; a compatible endpoint that sends a string gets it passed
    # through raw, so the loop reports malformed arguments instead of this code guessing.
    return value if isinstance(value, str) else json.dumps(value)
