"""Approvals: who must still decide, and what the decisions so far add up to."""

from __future__ import annotations

from enum import StrEnum

from mcos.fleet.schema import HUMAN


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    APPLIED = "applied"


def outcome(required: list[str], decisions: dict[str, str]) -> ApprovalStatus:
    """One denial ends it; it is approved only when every required party has approved."""
    if any(d == "deny" for d in decisions.values()):
        return ApprovalStatus.DENIED
    if all(decisions.get(party) == "approve" for party in required):
        return ApprovalStatus.APPROVED
    return ApprovalStatus.PENDING


def party_of(kind: str, role: str | None, required: list[str]) -> str | None:
    """The required party a decider stands for: operators for ``human``, agents for their role."""
    party = HUMAN if kind == "operator" else role
    return party if party in required else None
