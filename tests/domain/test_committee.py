"""How a committee's quorum and rule turn positions into a decision, and say why in one line."""

from __future__ import annotations

from mcos.domain.committee import (
    CommitteeStatus,
    Outcome,
    Position,
    Rule,
    decide,
    positions_allowed,
)

FOUR = ["jarvis", "donna", "apex", "human"]


def test_majority_decides_as_soon_as_the_rest_cannot_change_it() -> None:
    two = decide(Rule.MAJORITY, 3, FOUR, {"jarvis": "for", "donna": "for"})
    assert two.status == CommitteeStatus.OPEN
    assert two.explanation == (
        "2 of 4 for, 0 against; quorum 3 not met; majority: undecided, 2 still to give a position"
    )
    three = decide(Rule.MAJORITY, 3, FOUR, {"jarvis": "for", "donna": "for", "apex": "for"})
    assert (three.status, three.outcome) == (CommitteeStatus.DECIDED, Outcome.APPROVED)
    assert three.explanation == "3 of 4 for, 0 against; quorum 3 met; majority: approved"
    assert three.tally.as_dict() == {
        "for": 3,
        "against": 0,
        "veto": 0,
        "abstain": 0,
        "given": 3,
        "voters": 4,
    }


def test_a_majority_tie_is_rejected() -> None:
    tie = decide(
        Rule.MAJORITY,
        2,
        FOUR,
        {"jarvis": "for", "donna": "for", "apex": "against", "human": "against"},
    )
    assert (tie.status, tie.outcome) == (CommitteeStatus.DECIDED, Outcome.REJECTED)
    assert tie.explanation == "2 of 4 for, 2 against; quorum 2 met; majority: rejected"
    # Two against of four can no longer lose: a tie at best.
    early = decide(Rule.MAJORITY, 2, FOUR, {"apex": "against", "human": "against"})
    assert (early.status, early.outcome) == (CommitteeStatus.DECIDED, Outcome.REJECTED)


def test_unanimity_needs_every_side_taken_to_be_for() -> None:
    voters = ["jarvis", "donna", "apex"]
    waiting = decide(Rule.UNANIMITY, 2, voters, {"jarvis": "for", "donna": "for"})
    assert waiting.status == CommitteeStatus.OPEN
    yes = decide(Rule.UNANIMITY, 2, voters, {"jarvis": "for", "donna": "for", "apex": "abstain"})
    assert (yes.status, yes.outcome) == (CommitteeStatus.DECIDED, Outcome.APPROVED)
    assert (
        yes.explanation == "2 of 3 for, 0 against, 1 abstaining; quorum 2 met; unanimity: approved"
    )
    no = decide(Rule.UNANIMITY, 2, voters, {"jarvis": "for", "donna": "against"})
    assert (no.status, no.outcome) == (CommitteeStatus.DECIDED, Outcome.REJECTED)
    # Before the quorum is certain, one against could still end in no quorum: it waits.
    unsure = decide(Rule.UNANIMITY, 2, voters, {"donna": "against"})
    assert unsure.status == CommitteeStatus.OPEN


def test_any_veto_rejects_and_otherwise_the_majority_decides() -> None:
    voters = ["jarvis", "donna", "apex"]
    vetoed = decide(Rule.VETO, 1, voters, {"jarvis": "for", "donna": "veto"})
    assert (vetoed.status, vetoed.outcome) == (CommitteeStatus.DECIDED, Outcome.REJECTED)
    assert vetoed.explanation == "1 of 3 for, 0 against, 1 veto; quorum 1 met; veto: rejected"
    # Against is not a veto: two for and one against carries it.
    carried = decide(Rule.VETO, 3, voters, {"jarvis": "for", "donna": "for", "apex": "against"})
    assert (carried.status, carried.outcome) == (CommitteeStatus.DECIDED, Outcome.APPROVED)
    # Two for of three is not certain under veto: the third could still veto.
    assert decide(Rule.VETO, 1, voters, {"jarvis": "for", "donna": "for"}).status == "open"
    assert Position.VETO in positions_allowed(Rule.VETO)
    assert Position.VETO not in positions_allowed(Rule.MAJORITY)
    assert Position.VETO not in positions_allowed(Rule.UNANIMITY)


def test_abstentions_do_not_count_towards_the_quorum() -> None:
    voters = ["jarvis", "donna", "apex"]
    none = decide(
        Rule.MAJORITY, 2, voters, {"jarvis": "for", "donna": "abstain", "apex": "abstain"}
    )
    assert (none.status, none.outcome) == (CommitteeStatus.NO_QUORUM, None)
    assert none.explanation == (
        "1 of 3 for, 0 against, 2 abstaining; quorum 2 not met and it cannot be; "
        "majority: no decision"
    )
    # Known early: two abstentions of three leave at most two sides, short of a quorum of three.
    early = decide(Rule.MAJORITY, 3, voters, {"donna": "abstain"})
    assert early.status == CommitteeStatus.NO_QUORUM


def test_positions_of_non_voters_are_ignored() -> None:
    result = decide(Rule.MAJORITY, 1, ["jarvis"], {"jarvis": "for", "mallory": "against"})
    assert (result.status, result.outcome) == (CommitteeStatus.DECIDED, Outcome.APPROVED)
    assert result.tally.given == 1
