"""Committees: a decision put to named voters, settled by a quorum and a rule.

Pure: given the rule, the quorum, the voters and the positions so far, say whether the committee
has decided and why, in one line. A committee decides as soon as its outcome is certain: when
no way the remaining voters could still vote would change it (so a unanimity committee is
rejected by the first ``against`` once the quorum cannot fail, and waits otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mcos.contract.vocab import HUMAN

HUMAN_VOTER = HUMAN
"""The voter name of the operator, when a committee gives the human a vote."""


class Rule(StrEnum):
    MAJORITY = "majority"
    """More ``for`` than ``against`` (a tie is rejected: the status quo stands)."""
    UNANIMITY = "unanimity"
    """No ``against`` at all among those who took a side."""
    VETO = "veto"
    """A majority ``for``, and no voter used a ``veto``."""


class Position(StrEnum):
    FOR = "for"
    AGAINST = "against"
    ABSTAIN = "abstain"
    VETO = "veto"
    """Only under the ``veto`` rule: an ``against`` that alone rejects."""


class CommitteeStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    NO_QUORUM = "no_quorum"
    """Every way it could end leaves fewer sides taken than the quorum."""


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Tally:
    for_: int
    against: int
    veto: int
    abstain: int
    voters: int

    @property
    def given(self) -> int:
        return self.for_ + self.against + self.veto + self.abstain

    @property
    def sides(self) -> int:
        """Positions that count towards the quorum: abstentions do not."""
        return self.for_ + self.against + self.veto

    def as_dict(self) -> dict[str, int]:
        return {
            "for": self.for_,
            "against": self.against,
            "veto": self.veto,
            "abstain": self.abstain,
            "given": self.given,
            "voters": self.voters,
        }


@dataclass(frozen=True)
class Decision:
    status: CommitteeStatus
    outcome: Outcome | None
    tally: Tally
    explanation: str
    """One line: ``3 of 4 for, 1 against; quorum 3 met; majority: approved``."""


def positions_allowed(rule: Rule) -> tuple[Position, ...]:
    if rule == Rule.VETO:
        return tuple(Position)
    return (Position.FOR, Position.AGAINST, Position.ABSTAIN)


def tally(voters: Sequence[str], positions: Mapping[str, str]) -> Tally:
    given = [Position(positions[v]) for v in voters if v in positions]
    return Tally(
        for_=given.count(Position.FOR),
        against=given.count(Position.AGAINST),
        veto=given.count(Position.VETO),
        abstain=given.count(Position.ABSTAIN),
        voters=len(voters),
    )


def final_result(rule: Rule, quorum: int, t: Tally) -> Outcome | None:
    """What a committee with every position in would come to; ``None``: quorum not met."""
    if t.sides < quorum:
        return None
    if rule == Rule.UNANIMITY:
        ok = t.against + t.veto == 0
    elif rule == Rule.VETO:
        ok = t.veto == 0 and t.for_ > t.against
    else:
        ok = t.for_ > t.against + t.veto
    return Outcome.APPROVED if ok else Outcome.REJECTED


def _completions(rule: Rule, t: Tally) -> Iterator[Tally]:
    """Every tally the remaining voters could still bring about."""
    remaining = t.voters - t.given
    vetoes = range(remaining + 1) if rule == Rule.VETO else range(1)
    for f in range(remaining + 1):
        for a in range(remaining - f + 1):
            for v in vetoes:
                if f + a + v > remaining:
                    break
                ab = remaining - f - a - v
                yield Tally(t.for_ + f, t.against + a, t.veto + v, t.abstain + ab, t.voters)


def decide(
    rule: Rule, quorum: int, voters: Sequence[str], positions: Mapping[str, str]
) -> Decision:
    """Open until the outcome is certain, then decided (approved/rejected) or no quorum."""
    t = tally(voters, positions)
    results = {final_result(rule, quorum, c) for c in _completions(rule, t)}
    counts = f"{t.for_} of {t.voters} for, {t.against} against"
    if t.veto:
        counts += f", {t.veto} veto"
    if t.abstain:
        counts += f", {t.abstain} abstaining"
    quorum_note = f"quorum {quorum} {'met' if t.sides >= quorum else 'not met'}"
    if len(results) > 1:
        waiting = t.voters - t.given
        return Decision(
            CommitteeStatus.OPEN,
            None,
            t,
            f"{counts}; {quorum_note}; {rule.value}: undecided, {waiting} still to give a position",
        )
    (result,) = results
    if result is None:
        return Decision(
            CommitteeStatus.NO_QUORUM,
            None,
            t,
            f"{counts}; {quorum_note} and it cannot be; {rule.value}: no decision",
        )
    return Decision(
        CommitteeStatus.DECIDED, result, t, f"{counts}; {quorum_note}; {rule.value}: {result.value}"
    )
