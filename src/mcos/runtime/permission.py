"""Asking the control plane before acting, and what a tool call ends in besides its output.

One question, ``POST /api/v1/actions``, three answers: allowed (the caller acts), refused (a
:class:`ToolError` the model reads; the control plane recorded the refusal), or needs an
approval (:class:`Parked`: nothing is done, the task waits for the decision). A control plane
that cannot be asked raises ``Unreachable``: nothing runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from mcos.client import ApiError
from mcos.contract import paths
from mcos.contract.requests import ActionRequest
from mcos.fleet.schema import Agent, Fleet
from mcos.policy.local import allowed_alone, policy_version
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


@dataclass(frozen=True)
class LocalPolicy:
    """The policy engine run here, on the runner's own fleet file (:mod:`mcos.policy.local`):
    trusted only while the control plane's last heartbeat answer gave the same version."""

    fleet: Fleet
    agent: Agent
    version: Callable[[], str | None]
    """The ``policy_version`` of the latest heartbeat answer (``None`` before the first)."""

    def allows(self, action: dict[str, Any]) -> bool:
        """``action`` is ``allow`` from the fleet file alone, and the file is the server's."""
        if self.version() != policy_version(self.fleet, self.agent):
            return False
        try:
            body = ActionRequest.model_validate(action)
        except ValidationError:
            return False  # the control plane says what is wrong with it
        return allowed_alone(self.fleet, self.agent, body, datetime.now(UTC))


async def ask_before_acting(
    link: AgentLink, action: dict[str, Any], local: LocalPolicy | None = None
) -> dict[str, Any]:
    """Ask whether ``action`` may be done now: returns the answer if allowed.

    With ``local``, an action it allows is not asked: it is reported (``acted``) through the
    outbox, durably, before it is done, and the control plane decides it again and records it.

    Raises :class:`Refused` when policy refuses it, :class:`Parked` when it needs an approval,
    and ``ApiError`` or ``Unreachable`` when the control plane cannot answer the question.
    """
    if local is not None and local.allows(action):
        await link.report("POST", paths.ACTIONS, action | {"acted": True})
        return {"decision": "allow", "reason": "allowed by the fleet file", "acted": True}
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
