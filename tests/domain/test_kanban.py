"""The Kanban state machine: every move allowed or refused, and why."""

from __future__ import annotations

import itertools

import pytest

from mcos.domain.kanban import TRANSITIONS, TaskStatus, refuse_move

S = TaskStatus

# The board, written out: forward one column, back one for rework, into and out of
# "blocked"; "done" is final.
EXPECTED = {
    S.INBOX: {S.ASSIGNED, S.BLOCKED},
    S.ASSIGNED: {S.IN_PROGRESS, S.INBOX, S.BLOCKED},
    S.IN_PROGRESS: {S.REVIEW, S.ASSIGNED, S.BLOCKED},
    S.REVIEW: {S.DONE, S.IN_PROGRESS, S.BLOCKED},
    S.BLOCKED: {S.INBOX, S.ASSIGNED, S.IN_PROGRESS, S.REVIEW},
    S.DONE: set(),
}
PAIRS = [(a, b) for a, b in itertools.product(TaskStatus, TaskStatus) if a != b]
ALLOWED = [(a, b) for a, b in PAIRS if b in EXPECTED[a]]
REFUSED = [(a, b) for a, b in PAIRS if b not in EXPECTED[a]]


def test_transition_table_is_the_board() -> None:
    assert {status: set(targets) for status, targets in TRANSITIONS.items()} == EXPECTED
    assert [s.value for s in TaskStatus] == [
        "inbox", "assigned", "in_progress", "review", "done", "blocked",
    ]  # fmt: skip


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=lambda s: s.value)
def test_allowed_move(current: TaskStatus, target: TaskStatus) -> None:
    assert refuse_move(current, target, has_assignee=True, unfinished_dependencies=[]) is None


@pytest.mark.parametrize(("current", "target"), REFUSED, ids=lambda s: s.value)
def test_refused_move_names_the_allowed_targets(current: TaskStatus, target: TaskStatus) -> None:
    reason = refuse_move(current, target, has_assignee=True, unfinished_dependencies=[])
    assert reason is not None
    assert f"a task in {current.value} cannot move to {target.value}" in reason
    allowed = reason.split("it may move to ", 1)[1]
    assert set(allowed.split(", ")) == {s.value for s in EXPECTED[current]} or (
        current == S.DONE and allowed == "nothing (final)"
    )


def test_done_is_final() -> None:
    for target in TaskStatus:
        reason = refuse_move(S.DONE, target, has_assignee=True, unfinished_dependencies=[])
        assert reason is not None
    reason = refuse_move(S.DONE, S.REVIEW, has_assignee=True, unfinished_dependencies=[])
    assert reason == "a task in done cannot move to review; it may move to nothing (final)"


def test_a_move_to_the_same_column_is_refused() -> None:
    reason = refuse_move(S.REVIEW, S.REVIEW, has_assignee=True, unfinished_dependencies=[])
    assert reason == "the task is already in review"


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.INBOX, S.ASSIGNED), (S.BLOCKED, S.IN_PROGRESS), (S.BLOCKED, S.REVIEW)],
    ids=lambda s: s.value,
)
def test_columns_past_inbox_need_an_assignee(current: TaskStatus, target: TaskStatus) -> None:
    reason = refuse_move(current, target, has_assignee=False, unfinished_dependencies=[])
    assert reason == f"a task needs an assignee before it can move to {target.value}"


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.INBOX, S.BLOCKED), (S.ASSIGNED, S.INBOX), (S.BLOCKED, S.INBOX)],
    ids=lambda s: s.value,
)
def test_inbox_and_blocked_need_no_assignee(current: TaskStatus, target: TaskStatus) -> None:
    assert refuse_move(current, target, has_assignee=False, unfinished_dependencies=[]) is None


@pytest.mark.parametrize("current", [S.ASSIGNED, S.BLOCKED], ids=lambda s: s.value)
def test_unfinished_dependencies_block_starting_work(current: TaskStatus) -> None:
    reason = refuse_move(current, S.IN_PROGRESS, has_assignee=True, unfinished_dependencies=[3, 17])
    assert reason == "the task depends on #3, #17, not done yet"


def test_unfinished_dependencies_do_not_block_other_moves() -> None:
    for current, target in [(S.ASSIGNED, S.BLOCKED), (S.IN_PROGRESS, S.REVIEW)]:
        assert refuse_move(current, target, has_assignee=True, unfinished_dependencies=[3]) is None
