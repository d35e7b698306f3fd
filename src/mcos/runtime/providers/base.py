"""What every provider speaks: one request and one reply in mcos's own neutral shape.

The agent loop never sees an SDK type. A provider turns a :class:`ModelRequest` into its wire
format, calls the model once (no retries: the loop owns retrying, cooldowns and budgets), and
turns the answer into a :class:`ModelReply`; failures become one of the three
:class:`ProviderError` kinds below, which decide what the loop does next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mcos.errors import McosError


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model; ``parameters`` is a JSON Schema object."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call as the model made it; ``arguments`` is the raw JSON text, unparsed."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Turn:
    """One entry of the conversation.

    ``user``: text from the runtime (the work at hand). ``assistant``: the model's text and/or
    tool calls. ``tool``: the result of one tool call (``tool_call_id``), ``is_error`` when the
    tool failed or was refused.
    """

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call, split the way prices are."""

    input_tokens: int
    """Prompt tokens neither read from nor written to the prompt cache."""
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Every token of the prompt: what the context gauge shows."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


@dataclass(frozen=True, slots=True)
class ModelRequest:
    model: str
    system: str
    turns: Sequence[Turn]
    tools: Sequence[ToolSpec] = ()
    max_tokens: int = 4_096


@dataclass(frozen=True, slots=True)
class ModelReply:
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    model: str
    """The model that answered, as the provider names it."""
    stop_reason: str = ""
    simulated: bool = False
    """True for the scripted provider: whatever shows this reply says so."""
    extra: dict[str, Any] = field(default_factory=dict)


class ProviderError(McosError):
    """A model call failed; the subclass says what the loop should do."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = status


class RateLimited(ProviderError):
    """HTTP 429: wait ``retry_after`` seconds on this agent's one credential; never switch keys."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class TransientProviderError(ProviderError):
    """Overloaded (529), a 5xx, a timeout or a dropped connection: back off with jitter, retry."""

    code = "provider_unavailable"


class PermanentProviderError(ProviderError):
    """Bad request, bad key, unknown model: retrying cannot help; the task fails with this."""

    code = "provider_error"


class Provider(Protocol):
    """One agent's connection to its model, using only that agent's credential."""

    name: str

    async def complete(self, request: ModelRequest) -> ModelReply: ...

    async def aclose(self) -> None: ...
