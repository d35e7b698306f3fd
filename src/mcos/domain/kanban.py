"""The Kanban state machine: which moves a task card may make, and why a move is refused."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    INBOX = "inbox"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    DONE = "done"
    BLOCKED = "blocked"


COLUMNS: tuple[TaskStatus, ...] = tuple(TaskStatus)

# Forward along the board, back one step for rework, and into or out of "blocked".
# "done" is final: reopening means a new card that names the old one as its parent.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.INBOX: frozenset({TaskStatus.ASSIGNED, TaskStatus.BLOCKED}),
    TaskStatus.ASSIGNED: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.INBOX, TaskStatus.BLOCKED}),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.REVIEW, TaskStatus.ASSIGNED, TaskStatus.BLOCKED}),
    TaskStatus.REVIEW: frozenset({TaskStatus.DONE, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED}),
    TaskStatus.BLOCKED: frozenset(
        {TaskStatus.INBOX, TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.REVIEW}
    ),
    TaskStatus.DONE: frozenset(),
}

NEEDS_ASSIGNEE = frozenset(
    {TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.REVIEW, TaskStatus.DONE}
)


def refuse_move(
    current: TaskStatus,
    target: TaskStatus,
    *,
    has_assignee: bool,
    unfinished_dependencies: list[int],
) -> str | None:
    """Why ``current -> target`` is not allowed, or ``None`` if it is."""
    if current == target:
        return f"the task is already in {target.value}"
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing (final)"
        return f"a task in {current.value} cannot move to {target.value}; it may move to {allowed}"
    if target in NEEDS_ASSIGNEE and not has_assignee:
        return f"a task needs an assignee before it can move to {target.value}"
    if target == TaskStatus.IN_PROGRESS and unfinished_dependencies:
        ids = ", ".join(f"#{i}" for i in unfinished_dependencies)
        return f"the task depends on {ids}, not done yet"
    return None
