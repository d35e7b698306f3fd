"""The deterministic scripted model: for tests and the demo, and for the wire-level fakes.

A :class:`Script` is an ordered list of :class:`Rule`; the first rule that matches a request
plays one of its :class:`Step` (a text reply, tool calls, or an HTTP error). Which step is the
number of assistant turns since the last user turn, so a rule scripts one piece of work: step 0
answers the work, step 1 answers the first round of tool results, and so on; past the last step
the reply is ``(simulated) done.``. With no matching rule the script answers by itself, so a
fleet runs end to end with an empty script.

Every text this module produces starts with ``(simulated) ``: whatever shows a simulated reply
must say so. Token counts are estimates (four characters a token), not a tokenizer.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcos.runtime.providers._errors import error_for_status
from mcos.runtime.providers.base import ModelReply, ModelRequest, ToolCall, ToolSpec, Turn, Usage

SIMULATED_PREFIX = "(simulated) "
MEMORY_FLUSH_MARK = "[memory flush]"
COMPACTION_MARK = "[compaction]"
_LINE_LIMIT = 120


ArgumentsFrom = Callable[[ModelRequest], dict[str, Any]]
"""Arguments worked out from the request, in a script written in Python: the demo reads a
committee's number from the directive its member was sent."""


@dataclass(frozen=True, slots=True)
class ScriptedToolCall:
    """A tool call a step makes; a ``str`` for ``arguments`` is sent as is, even if not JSON."""

    name: str
    arguments: dict[str, Any] | str | ArgumentsFrom = field(default_factory=dict)

    def raw_arguments(self, request: ModelRequest) -> str:
        arguments = self.arguments(request) if callable(self.arguments) else self.arguments
        return arguments if isinstance(arguments, str) else json.dumps(arguments)


@dataclass(frozen=True, slots=True)
class ScriptedError:
    """An HTTP error a step answers with; ``retry_after`` (seconds) goes with a 429."""

    status: int
    message: str = ""
    retry_after: float | None = None

    @property
    def text(self) -> str:
        return self.message or f"(simulated) HTTP {self.status} error"


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted answer: ``text`` and/or ``tool_calls``, or else an ``error``.

    ``prompt_tokens`` replaces the estimated prompt size, so a test can fill an agent's context
    window without sending that many characters.
    """

    text: str = ""
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    error: ScriptedError | None = None
    prompt_tokens: int | None = None

    @classmethod
    def reply(cls, text: str, *, prompt_tokens: int | None = None) -> Step:
        return cls(text=text, prompt_tokens=prompt_tokens)

    @classmethod
    def call(
        cls,
        name: str,
        arguments: dict[str, Any] | str | ArgumentsFrom | None = None,
        *,
        text: str = "",
        prompt_tokens: int | None = None,
    ) -> Step:
        """A step making one tool call."""
        call = ScriptedToolCall(name, {} if arguments is None else arguments)
        return cls(text=text, tool_calls=(call,), prompt_tokens=prompt_tokens)

    @classmethod
    def fail(cls, status: int, message: str = "", *, retry_after: float | None = None) -> Step:
        return cls(error=ScriptedError(status, message, retry_after))


@dataclass(frozen=True, slots=True)
class Rule:
    """Steps for the requests matching every criterion given (none given: every request).

    ``key``: the API key used, which names the agent. ``contains``: a substring of some user
    turn. ``agent``: a substring of the system prompt (``"You are Flow"``). ``times``: answer at
    most this many requests, then let later rules (or the default) answer.
    """

    steps: tuple[Step, ...] = ()
    key: str | None = None
    contains: str | None = None
    agent: str | None = None
    times: int | None = None

    def matches(self, request: ModelRequest, key: str) -> bool:
        if self.key is not None and self.key != key:
            return False
        if self.agent is not None and self.agent not in request.system:
            return False
        if self.contains is not None:
            needle = self.contains
            return any(t.role == "user" and needle in t.text for t in request.turns)
        return True


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """What the script answered; the caller shapes it for its API."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    prompt_tokens: int
    output_tokens: int
    rule: int | None
    """Index of the rule that answered, ``None`` for the default behaviour."""


class Script:
    """Ordered rules, first match wins; safe to share between agents and threads."""

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        self.rules = tuple(rules)
        self._answered = [0] * len(self.rules)
        self._lock = threading.Lock()

    @classmethod
    def from_dict(cls, data: object) -> Script:
        """Build from ``{"rules": [...]}``; raises :class:`InvalidInput` naming the bad field."""
        from mcos.runtime.providers._script_format import parse_script

        return cls(parse_script(data))

    @classmethod
    def from_file(cls, path: str | Path) -> Script:
        """Load a ``.toml`` or ``.json`` script; raises :class:`InvalidInput` naming the field."""
        from mcos.runtime.providers._script_format import load_script_file

        return cls(load_script_file(Path(path)))

    def add(self, rule: Rule) -> None:
        """Append a rule while agents run: the demo scripts work whose ids it learns as it goes
        (a task's number, a committee's), so a rule can match ``Task #42:`` exactly."""
        with self._lock:
            self.rules = (*self.rules, rule)
            self._answered.append(0)

    @property
    def answered(self) -> tuple[int, ...]:
        """How many requests each rule has answered, in rule order."""
        with self._lock:
            return tuple(self._answered)

    def answer(
        self, request: ModelRequest, *, key: str, id_prefix: str = "call_"
    ) -> ScriptedReply | ScriptedError:
        """Play the step this request calls for; tool call ids start with ``id_prefix``."""
        index = self._claim_rule(request, key)
        if index is None:
            return _reply(request, _default_text(request.turns), (), None, None)
        steps = self.rules[index].steps
        step_index = _assistant_turns_since_last_user(request.turns)
        if step_index >= len(steps):
            return _reply(request, "(simulated) done.", (), None, index)
        step = steps[step_index]
        if step.error is not None:
            return step.error
        calls = tuple(
            ToolCall(f"{id_prefix}{len(request.turns)}_{n}", c.name, c.raw_arguments(request))
            for n, c in enumerate(step.tool_calls)
        )
        text = _simulated(step.text) if step.text or calls else "(simulated) done."
        return _reply(request, text, calls, step.prompt_tokens, index)

    def _claim_rule(self, request: ModelRequest, key: str) -> int | None:
        """The first rule that matches and has answers left, counted as answering.

        The runtime's own turns (the memory flush, the compaction summary) are answered by the
        default behaviour unless a rule asks for them by their mark in ``contains``, so a rule
        scripting an agent's work does not also answer its housekeeping.
        """
        last = _last_user_text(request.turns)
        housekeeping = last.startswith((MEMORY_FLUSH_MARK, COMPACTION_MARK))
        with self._lock:
            for index, rule in enumerate(self.rules):
                if rule.times is not None and self._answered[index] >= rule.times:
                    continue
                if housekeeping and not (rule.contains and last.startswith(rule.contains)):
                    continue
                if rule.matches(request, key):
                    self._answered[index] += 1
                    return index
        return None


class SimulatedProvider:
    """The scripted model in-process: no HTTP, replies marked ``simulated=True``.

    ``key`` stands for the agent's API key so rules can tell agents apart; a fleet shares one
    :class:`Script` between its simulated agents. An error step raises the matching
    :class:`ProviderError` (a 429 raises :class:`RateLimited` with the step's ``retry_after``).
    """

    name = "simulated"

    def __init__(self, script: Script | None = None, *, key: str = "simulated") -> None:
        self.script = script if script is not None else Script()
        self.key = key

    async def complete(self, request: ModelRequest) -> ModelReply:
        outcome = self.script.answer(request, key=self.key)
        if isinstance(outcome, ScriptedError):
            headers: dict[str, str] = {}
            if outcome.retry_after is not None:
                headers["retry-after"] = str(outcome.retry_after)
            raise error_for_status(self.name, outcome.status, outcome.text, headers)
        return ModelReply(
            text=outcome.text,
            tool_calls=outcome.tool_calls,
            usage=Usage(input_tokens=outcome.prompt_tokens, output_tokens=outcome.output_tokens),
            model=request.model,
            stop_reason="tool_use" if outcome.tool_calls else "end_turn",
            simulated=True,
        )

    async def aclose(self) -> None:
        return None


def tools_json(tools: Sequence[ToolSpec]) -> str:
    """The tool specs as the estimate counts them (empty when no tools are offered)."""
    if not tools:
        return ""
    specs = [
        {"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools
    ]
    return json.dumps(specs, sort_keys=True)


def estimate_prompt_tokens(request: ModelRequest) -> int:
    """Characters of system prompt, turns, tool call arguments and tool specs, over four."""
    chars = len(request.system) + len(tools_json(request.tools))
    for turn in request.turns:
        chars += len(turn.text) + sum(len(call.arguments) for call in turn.tool_calls)
    return math.ceil(chars / 4)


def estimate_prefix_tokens(request: ModelRequest) -> int:
    """The cacheable prefix (tool specs and system prompt) in the same units."""
    return math.ceil((len(request.system) + len(tools_json(request.tools))) / 4)


def _reply(
    request: ModelRequest,
    text: str,
    calls: tuple[ToolCall, ...],
    prompt_tokens: int | None,
    rule: int | None,
) -> ScriptedReply:
    output_chars = len(text) + sum(len(call.arguments) for call in calls)
    return ScriptedReply(
        text=text,
        tool_calls=calls,
        prompt_tokens=estimate_prompt_tokens(request) if prompt_tokens is None else prompt_tokens,
        output_tokens=math.ceil(output_chars / 4),
        rule=rule,
    )


def _simulated(text: str) -> str:
    if not text or text.startswith(SIMULATED_PREFIX):
        return text
    return SIMULATED_PREFIX + text


def _assistant_turns_since_last_user(turns: Sequence[Turn]) -> int:
    count = 0
    for turn in reversed(turns):
        if turn.role == "user":
            break
        if turn.role == "assistant":
            count += 1
    return count


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= _LINE_LIMIT else line[: _LINE_LIMIT - 1] + "…"


def _default_text(turns: Sequence[Turn]) -> str:
    user_texts = [t.text for t in turns if t.role == "user"]
    if not user_texts:
        return "(simulated) done."
    last = user_texts[-1]
    earlier = [_first_line(text) for text in user_texts[:-1]]
    if last.startswith(MEMORY_FLUSH_MARK):
        bullets = [f"- {line}" for line in earlier if line] or ["- nothing new to note"]
        return "(simulated) notes to keep:\n" + "\n".join(bullets)
    if last.startswith(COMPACTION_MARK):
        tool_results = sum(1 for t in turns if t.role == "tool")
        latest = f" Latest: {earlier[-1]}" if earlier else ""
        return (
            f"(simulated) summary: {len(earlier)} earlier requests and "
            f"{tool_results} tool results.{latest}"
        )
    return f"(simulated) done: {_first_line(last)}"


def _last_user_text(turns: Sequence[Turn]) -> str:
    return next((t.text for t in reversed(turns) if t.role == "user"), "")
