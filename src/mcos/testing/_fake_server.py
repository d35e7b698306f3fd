"""What both wire-level fakes share: the script, the request log, the prompt cache, errors."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal

from starlette.requests import Request

from mcos.runtime.providers.base import ModelRequest
from mcos.runtime.providers.simulated import (
    Script,
    ScriptedError,
    ScriptedReply,
    estimate_prefix_tokens,
    tools_json,
)

Api = Literal["anthropic", "openai"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One model call a fake answered (or refused), as a test wants to check it."""

    api: Api
    key: str | None
    """The API key sent, which names the agent; ``None`` when none was sent."""
    model: str | None
    tools: tuple[str, ...]
    """Names of the tools offered, in order."""
    message_count: int
    """Entries in the wire ``messages`` array (for OpenAI, the system message counts)."""
    status: int
    """The HTTP status the fake answered with."""
    rule: int | None
    """Index of the script rule that answered; ``None`` for the default, an error or a refusal."""
    last_user_text: str = ""
    """The text of the conversation's last user turn."""
    tool_results: tuple[str, ...] = ()
    """The text of every tool result in the conversation, oldest first."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class RequestNotes:
    """What a handler learnt about a request so far; becomes a :class:`RecordedRequest`."""

    api: Api
    key: str | None
    model: str | None = None
    tools: tuple[str, ...] = ()
    message_count: int = 0
    rule: int | None = None
    request: ModelRequest | None = None

    def recorded(self, status: int) -> RecordedRequest:
        turns = self.request.turns if self.request is not None else ()
        users = [turn.text for turn in turns if turn.role == "user"]
        return RecordedRequest(
            self.api,
            self.key,
            self.model,
            self.tools,
            self.message_count,
            status,
            self.rule,
            last_user_text=users[-1] if users else "",
            tool_results=tuple(turn.text for turn in turns if turn.role == "tool"),
        )


class WireError(Exception):
    """A request the fake answers with an HTTP error; each API shapes it its own way."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def scripted(cls, error: ScriptedError) -> WireError:
        return cls(error.status, error.text, retry_after=error.retry_after)

    def headers(self) -> dict[str, str]:
        """``retry-after`` in whole seconds, plus ``retry-after-ms`` when that is not exact."""
        if self.retry_after is None:
            return {}
        headers = {"retry-after": str(math.ceil(self.retry_after))}
        if self.retry_after != math.ceil(self.retry_after):
            headers["retry-after-ms"] = str(round(self.retry_after * 1000))
        return headers


@dataclass(slots=True)
class CacheSplit:
    """A prompt's tokens split the way a provider bills them."""

    uncached: int
    read: int = 0
    written: int = 0


class FakeState:
    """The script, request log and prompt cache of one fake server; thread-safe."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script if script is not None else Script()
        self._requests: list[RecordedRequest] = []
        self._prefixes: set[tuple[Api, str, str]] = set()
        self._lock = threading.Lock()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def set_script(self, script: Script) -> None:
        with self._lock:
            self.script = script

    def answer(
        self, notes: RequestNotes, request: ModelRequest, *, id_prefix: str
    ) -> ScriptedReply:
        """The script's reply; a scripted error is raised as a :class:`WireError`."""
        notes.request = request
        with self._lock:
            script = self.script
        outcome = script.answer(request, key=notes.key or "", id_prefix=id_prefix)
        if isinstance(outcome, ScriptedError):
            raise WireError.scripted(outcome)
        notes.rule = outcome.rule
        return outcome

    def split_cache(
        self, notes: RequestNotes, request: ModelRequest, prompt_tokens: int, *, cacheable: bool
    ) -> CacheSplit:
        """A cache read when this key sent the same tools and system before, else a write."""
        if not cacheable:
            return CacheSplit(uncached=prompt_tokens)
        prefix = min(estimate_prefix_tokens(request), prompt_tokens)
        text = tools_json(request.tools) + "\x00" + request.system
        fingerprint = (notes.api, notes.key or "", hashlib.sha256(text.encode()).hexdigest())
        with self._lock:
            seen = fingerprint in self._prefixes
            self._prefixes.add(fingerprint)
        if seen:
            return CacheSplit(uncached=prompt_tokens - prefix, read=prefix)
        return CacheSplit(uncached=prompt_tokens - prefix, written=prefix)


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 :class:`WireError` saying what is wrong."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise WireError(400, f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise WireError(400, "request body must be a JSON object")
    if body.get("stream"):
        raise WireError(400, "stream: streaming is not supported by this fake server")
    return body


def bearer_key(request: Request) -> str | None:
    """The key of an ``Authorization: Bearer KEY`` header, if there is one."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def expect(condition: bool, message: str) -> None:
    """Refuse the request with a 400 and ``message`` unless ``condition`` holds."""
    if not condition:
        raise WireError(400, message)
