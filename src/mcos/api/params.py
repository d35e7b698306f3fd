"""Path and query parameters shared by routes, bounded as the bodies are (``mcos.inputs``).

A path or query value is text, so these are read leniently (``"12"`` is 12), but bounded by the
column the value is compared with: ``/api/v1/tasks/99999999999999999999`` is a 422 naming
``task_id``, not an overflow in the database driver. Free text is bounded and free of NUL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator

from mcos.inputs import INT32_MAX, INT64_MAX, check_storable


def _row_id(noun: str) -> Any:
    return Path(ge=1, le=INT32_MAX, description=f"The {noun}'s id")


TaskId = Annotated[int, _row_id("task")]
ApprovalId = Annotated[int, _row_id("approval")]
IncidentId = Annotated[int, _row_id("incident")]
CommitteeId = Annotated[int, _row_id("committee")]

AfterRowId = Annotated[int, Query(ge=0, le=INT32_MAX, description="Only rows after this id")]
"""Paging through rows keyed by an ``Integer`` column (tasks)."""
AfterSeq = Annotated[int, Query(ge=0, le=INT64_MAX, description="Only rows after this id")]
"""Paging through rows keyed by a ``BigInteger`` column (messages, events)."""

SearchText = Annotated[str, AfterValidator(check_storable)]
"""Free text to match (no NUL), bounded by the ``Query`` it is given with."""
