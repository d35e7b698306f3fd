"""What an agent remembers between steps, and saves so that a restart resumes where it was."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from mcos.runtime.providers.base import ModelReply, ToolCall, Turn

log = logging.getLogger("mcos.runtime")

INTERRUPTED = (
    "Interrupted: the runner stopped while this call was running, before its result was kept, "
    "so whether it took effect is unknown. It was not run again. Check first (read the file, "
    "list the state) and do it again only if it is still needed."
)
"""The result given to a tool call that has none when its conversation is resumed."""


def turn_to_dict(turn: Turn) -> dict[str, Any]:
    out: dict[str, Any] = {"role": turn.role, "text": turn.text}
    if turn.tool_calls:
        out["tool_calls"] = [[c.id, c.name, c.arguments] for c in turn.tool_calls]
    if turn.tool_call_id is not None:
        out["tool_call_id"] = turn.tool_call_id
    if turn.is_error:
        out["is_error"] = True
    return out


def turn_from_dict(data: dict[str, Any]) -> Turn:
    return Turn(
        role=data["role"],
        text=data.get("text", ""),
        tool_calls=tuple(ToolCall(*c) for c in data.get("tool_calls", ())),
        tool_call_id=data.get("tool_call_id"),
        is_error=data.get("is_error", False),
    )


def _interrupted(calls: list[ToolCall]) -> list[Turn]:
    return [Turn("tool", INTERRUPTED, tool_call_id=call.id, is_error=True) for call in calls]


@dataclass
class Conversation:
    """One piece of work's turns, with the context gauge of its latest prompt."""

    turns: list[Turn]
    steps: int = 0
    """Model calls made for this work."""
    prompt_tokens: int = 0
    """Tokens of the latest prompt, from the provider's usage fields: the gauge."""
    failures: Counter[str] = field(default_factory=Counter)
    """Failing tool calls by name and arguments: the same one three times means stuck."""
    moved_to: str | None = None
    """The column the model itself last moved the card to (``update_task``), if any."""
    refusals: dict[str, str] = field(default_factory=dict)
    """Tools the policy refused, by name, with why, until the same tool later runs: work that
    needed a refused action is not finished, whatever the model says."""

    def record(self, reply: ModelReply) -> None:
        self.steps += 1
        self.prompt_tokens = reply.usage.prompt_tokens
        self.turns.append(Turn("assistant", reply.text, reply.tool_calls))

    def note_failure(self, call: ToolCall) -> None:
        self.failures[f"{call.name}({call.arguments})"] += 1

    def note_move(self, arguments: str) -> None:
        try:
            status = orjson.loads(arguments).get("status")
        except (orjson.JSONDecodeError, AttributeError):
            return
        if isinstance(status, str):
            self.moved_to = status

    def note_outcome(self, call: ToolCall, refused: str | None) -> None:
        """A refusal stands until the same tool runs after all (approved, or restored)."""
        if refused is not None:
            self.refusals[call.name] = refused
        else:
            self.refusals.pop(call.name, None)

    def answer_interrupted_calls(self) -> list[ToolCall]:
        """Give every tool call without a result one saying it was interrupted; those calls.

        A runner killed (or a step that failed) while a reply's tool calls ran leaves some of
        them unanswered, and the providers refuse a conversation with an unanswered call (400).
        Nothing is run again: the call may have taken effect. Each answer goes right after the
        results its reply did get, before any later turn, where both APIs want it.
        """
        turns: list[Turn] = []
        interrupted: list[ToolCall] = []
        owed: list[ToolCall] = []  # the calls of the latest reply not answered yet
        for turn in self.turns:
            if turn.role == "tool":
                owed = [call for call in owed if call.id != turn.tool_call_id]
            else:  # any other turn ends the results of the reply before it
                turns += _interrupted(owed)
                interrupted += owed
                owed = list(turn.tool_calls)
            turns.append(turn)
        turns += _interrupted(owed)
        interrupted += owed
        if interrupted:
            self.turns[:] = turns
        return interrupted

    def repeated_failure(self, limit: int) -> str | None:
        worst = self.failures.most_common(1)
        return worst[0][0][:300] if worst and worst[0][1] >= limit else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "turns": [turn_to_dict(t) for t in self.turns],
            "steps": self.steps,
            "prompt_tokens": self.prompt_tokens,
            "failures": dict(self.failures),
            "moved_to": self.moved_to,
            "refusals": self.refusals,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        return cls(
            turns=[turn_from_dict(t) for t in data.get("turns", ())],
            steps=data.get("steps", 0),
            prompt_tokens=data.get("prompt_tokens", 0),
            failures=Counter(data.get("failures", {})),
            moved_to=data.get("moved_to"),
            refusals=dict(data.get("refusals", {})),
        )


@dataclass
class Saved:
    """An agent's runtime state: its conversations, parked calls, and what it has acked."""

    conversations: dict[str, Conversation] = field(default_factory=dict)
    """By task id (as text), plus ``inbox`` for messages that came with no task."""
    parked: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Tool calls waiting for an approval, by task id."""
    current_task: int | None = None
    settled: set[int] = field(default_factory=set)
    """Tasks this agent finished or blocked whose moves may still wait in the outbox: not
    worked again while the control plane still shows them as the agent's."""
    ack_messages: int = 0
    ack_incidents: int = 0
    last_prompt_tokens: int = 0

    def gauge(self) -> int:
        if self.current_task is not None:
            current = self.conversations.get(str(self.current_task))
            if current is not None:
                self.last_prompt_tokens = current.prompt_tokens
        return self.last_prompt_tokens

    def resume(self, key: str, agent: str) -> Conversation | None:
        """Conversation ``key``, fit to be sent to the model again; ``None`` if none is saved.

        Its tool calls left without a result are answered as interrupted
        (:meth:`Conversation.answer_interrupted_calls`), each logged as a warning for the
        operator: ``agent`` names the agent there. A parked call has its result (the model was
        told it waits) and is left alone.
        """
        conversation = self.conversations.get(key)
        if conversation is None:
            return None
        work = f"task #{key}" if key.isdigit() else f"the {key} conversation"
        for call in conversation.answer_interrupted_calls():
            log.warning(
                "%s: %s: the runner stopped while %s(%s) was running; not run again, the model "
                "is told to check whether it took effect",
                agent,
                work,
                call.name,
                call.arguments[:200],
            )
        return conversation

    def to_json(self) -> bytes:
        """The state as it is now (later changes are not in it)."""
        return orjson.dumps(
            {
                "version": 1,
                "conversations": {k: c.to_dict() for k, c in self.conversations.items()},
                "parked": self.parked,
                "current_task": self.current_task,
                "settled": sorted(self.settled),
                "ack_messages": self.ack_messages,
                "ack_incidents": self.ack_incidents,
                "last_prompt_tokens": self.last_prompt_tokens,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Saved:
        """The state :meth:`to_json` wrote (empty if it is not an object)."""
        loaded = orjson.loads(data)
        return cls.from_dict(loaded if isinstance(loaded, dict) else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Saved:
        return cls(
            conversations={
                k: Conversation.from_dict(v) for k, v in data.get("conversations", {}).items()
            },
            parked=data.get("parked", {}),
            current_task=data.get("current_task"),
            settled=set(data.get("settled", ())),
            ack_messages=data.get("ack_messages", 0),
            ack_incidents=data.get("ack_incidents", 0),
            last_prompt_tokens=data.get("last_prompt_tokens", 0),
        )
