"""Asking the control plane before acting, and what a tool call ends in besides its output.

One question, ``POST /api/v1/actions``, three answers: allowed (the caller acts), refused (a
:class:`ToolError` the model reads; the control plane recorded the refusal), or needs an
approval (:class:`Parked`: nothing is done, the task waits for the decision). A control plane
that cannot be asked raises ``Unreachable``: nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcos.client import ApiError
from mcos.contract import paths
from mcos.runtime.client import AgentLink


class ToolError(Exception):
    """The tool failed or was refused; the message goes back to the model as the result."""


class Refused(ToolError):
    """The control plane's policy refused the action (and recorded the refusal): the work that
    needed it was not done, whatever the model says next."""


@dataclass
class Parked(Exception):
    """The call needs an approval: the task waits for it while the agent does other work."""

    approval_id: int
    approvers: list[str]
    action: dict[str, Any]
    """The exact action asked about; carried out, with the approval's id, once approved."""
    reason: str = ""
    """Why it needs approval, as the control plane said."""
    arguments: str | None = None
    """The arguments to run the call with once approved, when they differ from the model's
    (a fetch parked on a redirect resumes at the URL it was redirected to)."""


async def ask_before_acting(link: AgentLink, action: dict[str, Any]) -> dict[str, Any]:
    """Ask whether ``action`` may be done now: returns the answer if allowed.

    Raises :class:`Refused` when policy refuses it, :class:`Parked` when it needs an approval,
    and ``ApiError`` or ``Unreachable`` when the control plane cannot answer the question.
    """
    try:
        decision: dict[str, Any] = await link.ask("POST", paths.ACTIONS, action)
    except ApiError as exc:
        if exc.code == "policy_denied":
            raise Refused(f"refused by policy: {exc.message}") from None
        raise
    if decision["decision"] == "needs_approval":
        raise Parked(
            decision["approval_id"],
            list(decision.get("approvers", ())),
            action,
            decision.get("reason", ""),
        )
    return decision
