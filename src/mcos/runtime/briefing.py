"""The orchestrator's morning briefing task: the data's briefing in the prompt, prose out.

A task of kind ``briefing`` (created each morning by the schedule) is worked like any other,
but its prompt carries the briefing the control plane assembled from the data and asks for a
short narrative for the operator. The answer becomes the task's summary comment, which
``GET /api/v1/briefing`` shows above the data, marked as written by the model.
"""

from __future__ import annotations

from mcos.client import ApiError
from mcos.contract import paths
from mcos.runtime.client import AgentLink

BRIEFING_KIND = "briefing"
INSTRUCTION = (
    "This is the morning briefing. Write a short narrative for the operator (at most about 200 "
    "words): what matters today, what waits for their decision, and which agents need "
    "attention. Do not restate the figures section by section, and never invent a number: "
    "use a number only as it appears in the briefing below. Your final answer, without a tool "
    "call, is the written briefing; the operator sees the data's sections unchanged below it."
)


async def briefing_prompt(link: AgentLink) -> str:
    """The instruction and the data's briefing, or why it could not be read."""
    try:
        data = await link.ask("GET", paths.BRIEFING)
    except ApiError as exc:
        return f"{INSTRUCTION}\n\n(The briefing could not be read: {exc.message}.)"
    return f"{INSTRUCTION}\n\n--- The briefing, from the data ---\n\n{data['data_markdown']}"
