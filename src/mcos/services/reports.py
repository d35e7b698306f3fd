"""Many queued reports in one request and one commit: what a runtime's outbox has waiting.

Each report is applied in order, as if in a savepoint of its own, by the same service function
its route calls, and answered as that route would have answered it (status and body, or the one
error shape). A refusal records what it records on its own (a denied action's audit event). An
agent's later reports wait behind one that could not be applied for a reason that is not the
caller's (a bug, or a report that must go on its own): they come back ``not_attempted``, so the
outbox sends them again in order, one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcos.errors import McosError, ServiceUnavailable
from mcos.services import budgets
from mcos.services.refusals import Refusal
from mcos.storage.writer import WriteContext

log = logging.getLogger(__name__)

NOT_ATTEMPTED = "not_attempted"
"""The code of a report left for the outbox to send on its own, in order."""


@dataclass(frozen=True)
class Prepared:
    """One report, checked and ready: ``apply(ctx)`` is its route's service call."""

    agent: str
    apply: Callable[[WriteContext], Any] | None
    status: int
    """The status its route answers on success (201 for a creation)."""
    error: McosError | None = None
    """Set instead of ``apply`` when the report was refused before the write (bad body)."""
    stops_lane: bool = False
    """A refusal that is not the report's fault: the agent's later reports wait behind it."""


class _Isolate(Exception):
    """A report raised in the first pass: the bundle runs again, each report in a savepoint."""


def apply_reports(ctx: WriteContext, reports: list[Prepared]) -> dict[str, Any]:
    """Apply ``reports`` in order; one answer each, as ``{"status", "body"|"error"}``.

    First all in one savepoint (two statements for the bundle rather than two a report); if
    one of them raises, that savepoint is rolled back and the bundle runs again with each report
    in a savepoint of its own, so what the others did is kept and the answers are the same.
    """
    try:
        # Undone whole if a report raises, so the agents' spend may be remembered through it.
        with budgets.spend_remembered():
            return ctx.attempt(lambda whole: _apply(whole, reports, isolated=False))
    except _Isolate:
        return _apply(ctx, reports, isolated=True)


def _apply(ctx: WriteContext, reports: list[Prepared], *, isolated: bool) -> dict[str, Any]:
    stopped: set[str] = set()
    results: list[dict[str, Any]] = []
    for report in reports:
        if report.agent in stopped:
            results.append(_error(ServiceUnavailable(_WAITS, code=NOT_ATTEMPTED)))
            continue
        if report.apply is None:
            assert report.error is not None
            if report.stops_lane:
                stopped.add(report.agent)
            results.append(_error(report.error))
            continue
        try:
            if isolated:
                outcome = ctx.attempt(report.apply)
            else:
                # Its events are inserted with the bundle's, once, at the end of the attempt
                # (on PostgreSQL at the commit); a later report's client-id check sees them.
                outcome = report.apply(ctx)
        except Exception as exc:
            if not isolated:
                raise _Isolate from exc  # nothing of the first pass is kept
            if isinstance(exc, McosError):
                results.append(_error(exc))
                continue
            # A bug: nothing of it is kept, and the agent's later reports wait.
            log.exception("a bundled report failed")
            stopped.add(report.agent)
            results.append(_error(ServiceUnavailable(_FAILED, code=NOT_ATTEMPTED)))
            continue
        if isinstance(outcome, Refusal):  # its audit event stays; the report is refused
            results.append(_error(outcome.error))
        else:
            results.append({"status": report.status, "body": outcome})
    return {"results": results}


_WAITS = "an earlier report of this agent was not applied; send this one after it"
_FAILED = "this report could not be applied here; send it on its own"


def _error(error: McosError) -> dict[str, Any]:
    return {"status": error.status, "error": error.body()["error"]}
