"""Approvals: who must still decide, and what the decisions so far add up to."""

from __future__ import annotations

from enum import StrEnum

from mcos.contract.vocab import DECIDING_ROLES, HUMAN


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


def party_of(
    kind: str, role: str | None, required: list[str], decided: set[str] | None = None
) -> str | None:
    """The required party a decider stands for, or ``None`` if none.

    Agents stand for their role. Operators stand for ``human``; where no human is required
    (a P2 needs only the security agent), an operator may stand in for the first role still
    undecided — recorded under that role, with the operator as decider. Where a human *is*
    required, the roles stay the agents' own: a P0 still needs the orchestrator too.
    A committee's part (``committee:N``) is decided by that committee alone, never stood in for.
    """
    if kind != "operator":
        return role if role in required and not is_committee_party(role) else None
    if HUMAN in required:
        return HUMAN
    return next(
        (p for p in required if p not in (decided or set()) and not is_committee_party(p)), None
    )


def human_refusal(name: str, role: str | None, named: str | None) -> str | None:
    """Why this operator may not stand for ``human``, or ``None`` if they may.

    ``role`` is theirs (``None`` for the control plane's own principals, which never decide a
    human's part through the API); ``named`` is the one person the escalation table names for
    this approval (``human = "alice"``), frozen into it when it was asked for.
    """
    if role is not None and role not in DECIDING_ROLES:
        return f"operator {name!r} is a {role}: only an owner or an approver stands for {HUMAN!r}"
    if named is not None and name != named:
        return (
            f"the escalation table names {named!r} as the {HUMAN!r} who decides this, not {name!r}"
        )
    return None


COMMITTEE_PARTY_PREFIX = "committee:"


def committee_party(committee_id: int) -> str:
    """The required party of an approval that a committee gates."""
    return f"{COMMITTEE_PARTY_PREFIX}{committee_id}"


def is_committee_party(party: str | None) -> bool:
    return party is not None and party.startswith(COMMITTEE_PARTY_PREFIX)
