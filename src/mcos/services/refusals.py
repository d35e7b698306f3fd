"""Refusals: those that leave an audit event, and reports whose client id was already recorded.

An audited refusal is returned as a :class:`Refusal`, so the unit commits its event before
``Store.write`` refuses the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcos.errors import Conflict, McosError
from mcos.storage.writer import WriteContext


@dataclass(frozen=True)
class Refusal:
    """Returned (not raised) by a unit, so its audit event commits; ``Store.write`` raises it."""

    error: McosError


def refuse(
    ctx: WriteContext,
    error: McosError,
    event_type: str,
    actor: str,
    subject: str | None,
    data: dict[str, Any],
    *,
    client_id: str | None = None,
) -> Refusal:
    """``client_id`` spends the report's id on the refusal: a retry is answered ``duplicate_id``."""
    ctx.append(
        event_type,
        actor,
        subject,
        data | {"refused": error.message, "code": error.code},
        client_id=client_id,
    )
    return Refusal(error)


def refuse_duplicate(ctx: WriteContext, actor: str, client_id: str | None, what: str) -> None:
    """Raise 409 ``duplicate_id`` (field ``id``) if ``actor`` already used ``client_id``."""
    if ctx.is_recorded(actor, client_id):
        raise Conflict(
            f"{what} id {client_id!r} was already recorded", field="id", code="duplicate_id"
        )
