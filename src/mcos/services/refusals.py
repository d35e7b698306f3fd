"""Refusals that leave an audit event: the unit commits the event, then the caller is refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcos.errors import McosError
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
) -> Refusal:
    ctx.append(event_type, actor, subject, data | {"refused": error.message, "code": error.code})
    return Refusal(error)
