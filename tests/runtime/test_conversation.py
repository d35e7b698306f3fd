"""A saved conversation resumed after the runner stopped mid-tool is one the providers accept."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mcos.runtime.conversation import INTERRUPTED, Conversation, Saved
from mcos.runtime.providers import anthropic, openai
from mcos.runtime.providers.base import ToolCall, Turn
from mcos.testing import _fake_anthropic, _fake_openai
from mcos.testing._fake_server import RequestNotes, WireError

WRITE_A = ToolCall("call_1", "write_file", '{"path": "a.md", "content": "a"}')
WRITE_B = ToolCall("call_2", "write_file", '{"path": "b.md", "content": "b"}')
TASK = Turn("user", "Task #7: write a.md and b.md")


def accepted_by_both(turns: list[Turn]) -> list[tuple[str, str | None, str]]:
    """The turns as each fake API reads them back (it refuses what the real API refuses):
    both must read the same (role, tool call id, text) sequence."""
    notes = RequestNotes("openai", "key")
    chat: dict[str, Any] = {"model": "gpt-4o", "messages": openai.to_messages("system", turns)}
    from_openai = _fake_openai.to_model_request(chat, notes).turns
    messages: dict[str, Any] = {"model": "claude", "max_tokens": 9}
    messages["messages"] = anthropic.to_messages(turns)
    from_anthropic = _fake_anthropic.to_model_request(messages, notes)[0].turns
    read: list[tuple[str, str | None, str]] = [
        (t.role, t.tool_call_id, t.text) for t in from_anthropic
    ]
    prefix = openai.TOOL_ERROR_PREFIX  # Chat Completions carries is_error in the text
    same = [(t.role, t.tool_call_id, t.text.removeprefix(prefix)) for t in from_openai]
    assert same == read, "both APIs read the same conversation"
    return read


def test_a_call_cut_off_with_no_result_is_answered_as_interrupted() -> None:
    conversation = Conversation([TASK, Turn("assistant", "", (WRITE_A,))])
    with pytest.raises(WireError, match="call_1"):
        accepted_by_both(conversation.turns)  # what a restart sent before

    assert conversation.answer_interrupted_calls() == [WRITE_A]

    assert conversation.turns[-1] == Turn("tool", INTERRUPTED, tool_call_id="call_1", is_error=True)
    assert accepted_by_both(conversation.turns)[-1] == ("tool", "call_1", INTERRUPTED)
    assert conversation.answer_interrupted_calls() == [], "answered once, not again"


def test_of_two_calls_only_the_one_without_a_result_is_answered_after_the_others() -> None:
    done = Turn("tool", "wrote a.md", tool_call_id="call_1")
    conversation = Conversation([TASK, Turn("assistant", "", (WRITE_A, WRITE_B)), done])

    assert conversation.answer_interrupted_calls() == [WRITE_B]

    assert [(r, i) for r, i, _ in accepted_by_both(conversation.turns)] == [
        ("user", None),
        ("assistant", None),
        ("tool", "call_1"),
        ("tool", "call_2"),
    ]
    assert conversation.turns[2] is done, "the result it had is kept as it was"


def test_a_turn_already_after_the_cut_off_call_comes_after_its_answer() -> None:
    """Messages appended on a resume before this fix left the call unanswered mid-way: the
    answer goes before them (Anthropic wants tool results first in the next message)."""
    news = Turn("user", "New messages:\n- message from operator to you: hurry")
    conversation = Conversation([TASK, Turn("assistant", "", (WRITE_A,)), news])

    assert conversation.answer_interrupted_calls() == [WRITE_A]

    assert accepted_by_both(conversation.turns)[-2:] == [
        ("tool", "call_1", INTERRUPTED),
        ("user", None, news.text),
    ]


def test_a_parked_call_and_a_finished_conversation_are_left_alone() -> None:
    parked = Turn(
        "tool",
        "this needs approval #3 from an operator: ask_first. Nothing was done yet; the task "
        "waits for the decision and you will be told.",
        tool_call_id="call_1",
    )
    waiting = [TASK, Turn("assistant", "", (WRITE_A,)), parked]
    approved = Turn("user", "Approval #3 was approved and write_file ran:\nwrote a.md")
    for turns in (waiting, [*waiting, approved], [*waiting, approved, Turn("assistant", "ok")]):
        conversation = Conversation(list(turns))
        assert conversation.answer_interrupted_calls() == []
        assert conversation.turns == turns
        accepted_by_both(conversation.turns)


def test_resuming_a_saved_conversation_answers_its_cut_off_calls_and_logs_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = Turn("tool", "wrote a.md", tool_call_id="call_1")
    saved = Saved.from_json(
        Saved(
            conversations={
                "7": Conversation([TASK, Turn("assistant", "", (WRITE_A, WRITE_B)), done], steps=1),
                "inbox": Conversation([Turn("user", "New messages: hi")]),
            },
            current_task=7,
        ).to_json()
    )

    with caplog.at_level(logging.WARNING, logger="mcos.runtime"):
        resumed = saved.resume("7", "donna")
        inbox = saved.resume("inbox", "donna")

    assert resumed is not None and resumed.turns[-1].tool_call_id == "call_2"
    assert inbox is not None and len(inbox.turns) == 1
    assert saved.resume("8", "donna") is None
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1, warned
    assert warned[0].startswith("donna: task #7: the runner stopped while write_file(")
    assert '"b.md"' in warned[0], "the operator sees which call"
