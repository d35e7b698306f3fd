"""committees

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import mcos.storage.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "committees",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", mcos.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column(
            "members",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("human", sa.Boolean(), nullable=False),
        sa.Column("quorum", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("minutes", sa.Text(), nullable=True),
        sa.Column("decided_at", mcos.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_committees_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_committees_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committees")),
    )
    with op.batch_alter_table("committees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_committees_status_id"), ["status", "id"], unique=False)

    op.create_table(
        "committee_positions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("committee_id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=32), nullable=False),
        sa.Column("position", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("ts", mcos.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["committee_id"],
            ["committees.id"],
            name=op.f("fk_committee_positions_committee_id_committees"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_positions")),
        sa.UniqueConstraint(
            "committee_id", "member", name=op.f("uq_committee_positions_committee_id_member")
        ),
    )


def downgrade() -> None:
    op.drop_table("committee_positions")
    with op.batch_alter_table("committees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committees_status_id"))

    op.drop_table("committees")
