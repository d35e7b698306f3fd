"""named operators

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 14:20:00.000000

Every person who holds an operator token today becomes an operator of that name (the token's
label) with the role ``owner``: until now every operator had every power, so nobody loses one.
A committee position records who gave it (the ``human`` vote names its person).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import mcos.storage.tables

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    operators = op.create_table(
        "operators",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", mcos.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_operators")),
    )
    with op.batch_alter_table("committee_positions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("given_by", sa.String(length=120), nullable=True))
    labels = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT DISTINCT label FROM tokens "
                "WHERE kind = 'operator' AND revoked_at IS NULL ORDER BY label"
            )
        )
        .scalars()
        .all()
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        operators,
        [
            {"name": label, "role": "owner", "created_at": now, "created_by": "system"}
            for label in labels
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("committee_positions", schema=None) as batch_op:
        batch_op.drop_column("given_by")
    op.drop_table("operators")
