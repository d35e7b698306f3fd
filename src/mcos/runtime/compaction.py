"""Compaction with the memory flush first: what the seed's agents lost, this runtime keeps.

When a conversation's latest prompt crosses the agent's flush line
(``window - reserve_floor - soft_threshold``), the agent first runs a memory-flush turn whose
answer is appended to ``memory/YYYY-MM-DD.md`` in its workspace (and mirrored to the control
plane), and only then compacts: older turns are replaced by a summary. Both are reported, in
that order, through the outbox. If the flush fails, nothing is compacted.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from mcos.contract import paths
from mcos.fleet.schema import Agent
from mcos.runtime.calls import estimate_tokens
from mcos.runtime.conversation import Conversation
from mcos.runtime.providers.base import Turn

if TYPE_CHECKING:
    from mcos.runtime.agent import AgentLoop

FLUSH_PROMPT = (
    "[memory flush] Your context is nearly full and is about to be compacted: older turns "
    "will be replaced by a summary. Write down now, as short Markdown bullet points, what must "
    "not be lost: decisions made and why, commitments, facts learned, open threads and next "
    "steps. Write only the notes."
)
COMPACT_PROMPT = (
    "[compaction] Summarise the work so far in this conversation for yourself, so you can "
    "continue it from the summary alone: the goal, what is done, what is left, and anything "
    "you are waiting for. Write only the summary."
)


def needs_compaction(agent: Agent, conversation: Conversation) -> bool:
    return conversation.prompt_tokens >= agent.flush_line and len(conversation.turns) > 1


async def flush_and_compact(
    loop: AgentLoop, task_id: int | None, conversation: Conversation
) -> None:
    agent, link = loop.agent, loop.link
    before = conversation.prompt_tokens
    system = loop.system_prompt()
    flush = await loop.caller.call(
        system, [*conversation.turns, Turn("user", FLUSH_PROMPT)], task_id=task_id
    )
    notes = flush.text.strip() or "- (nothing new worth keeping)"
    now = datetime.now(ZoneInfo(loop.fleet.fleet.timezone))
    where = f"task #{task_id}" if task_id else "messages"
    loop.workspace.append_note(now.date(), f"{now:%H:%M} before compaction ({where})", notes)
    await link.report(
        "POST",
        paths.memory(agent.name),
        {"content": notes, "day": now.date().isoformat()},
    )
    summary = await loop.caller.call(
        system, [*conversation.turns, Turn("user", COMPACT_PROMPT)], task_id=task_id
    )
    first = conversation.turns[0].text if conversation.turns[0].role == "user" else ""
    compacted = [
        Turn("user", f"{first}\n\n[Your earlier work on this, summarised]\n{summary.text.strip()}")
    ]
    # An estimate until the next call's usage gives the real figure (the gauge then shows it).
    after = min(before, estimate_tokens(system, compacted, loop.toolbox.specs()))
    conversation.turns[:] = compacted
    conversation.prompt_tokens = after
    conversation.failures.clear()
    # The notes just written are part of what the agent reads from now on.
    loop.notes = loop.workspace.recent_notes(now.date())
    loop.save()
    await link.report(
        "POST",
        paths.compactions(agent.name),
        {"tokens_before": before, "tokens_after": after},
    )
