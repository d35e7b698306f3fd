"""An approval nobody decided in time expires, is logged as such, and can no longer be used."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from mcos.contract.requests import ApprovalDecision
from mcos.errors import Conflict
from mcos.fleet.loader import check_fleet_text, template_text
from mcos.services.access import Principal
from mcos.services.agents import sync_fleet
from mcos.services.approval_decisions import decide_approval
from mcos.services.approvals import create_approval, expire_approvals
from mcos.services.refusals import Refusal
from mcos.storage import tables
from mcos.storage.database import Database
from mcos.storage.writer import WriteContext, write_once


def test_a_stale_approval_expires_and_cannot_be_decided(database_url: str, tmp_path: Path) -> None:
    fleet, _ = check_fleet_text(template_text())
    assert fleet is not None
    db = Database(database_url)
    db.migrate()
    write_once(db, lambda ctx: sync_fleet(ctx, fleet))
    approval = write_once(
        db,
        lambda ctx: create_approval(
            ctx,
            kind="action",
            agent="vega",
            subject={"kind": "payment.send"},
            reason="r",
            required=("human",),
            requested_by="agent:vega",
        ),
    )

    def backdate(ctx: WriteContext) -> None:
        ctx.conn.execute(update(tables.approvals).values(expires_at=ctx.now - timedelta(hours=1)))

    write_once(db, backdate)
    assert write_once(db, expire_approvals) == 1
    assert write_once(db, expire_approvals) == 0, "expired once, logged once"
    operator = Principal("operator", "operator")
    refusal = write_once(
        db,
        lambda ctx: decide_approval(
            ctx, fleet, operator, approval["id"], "approve", ApprovalDecision()
        ),
    )
    assert isinstance(refusal, Refusal) and isinstance(refusal.error, Conflict)
    assert refusal.error.code == "approval_expired"
    with db.reading() as conn:
        kinds = [
            r.type
            for r in conn.execute(
                select(tables.events.c.type).where(
                    tables.events.c.subject == f"approval:{approval['id']}"
                )
            )
        ]
    db.dispose()
    assert kinds == ["approval.requested", "approval.expired", "approval.decided"]
