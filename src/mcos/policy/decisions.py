"""What the policy engine answers: a value, not an exception."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Allow:
    reason: str = "allowed"

    outcome = "allow"


@dataclass(frozen=True)
class Deny:
    rule: str
    """The rule that refused, such as ``capability`` or ``protected_path``."""
    reason: str
    """A sentence a person reads: what was refused and why."""

    outcome = "deny"


@dataclass(frozen=True)
class NeedsApproval:
    rule: str
    reason: str
    approvers: tuple[str, ...]
    """Roles (``security``, ``orchestrator``) or ``human``, each of whom must approve."""

    outcome = "needs_approval"


Decision = Allow | Deny | NeedsApproval
