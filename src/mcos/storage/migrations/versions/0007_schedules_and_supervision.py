"""schedules and supervision

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:55:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import mcos.storage.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_TIME = mcos.storage.tables.UTCDateTime


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("registered_at", UTC_TIME(timezone=True), nullable=False),
        sa.Column("cursor_at", UTC_TIME(timezone=True), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_schedules")),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("schedule", sa.String(length=32), nullable=False),
        sa.Column("due_at", UTC_TIME(timezone=True), nullable=False),
        sa.Column("fired_at", UTC_TIME(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", _json(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("start_by", UTC_TIME(timezone=True), nullable=True),
        sa.Column("start_checked_at", UTC_TIME(timezone=True), nullable=True),
        sa.Column("not_started", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_schedule_runs_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
        sa.UniqueConstraint("schedule", "due_at", name=op.f("uq_schedule_runs_schedule_due_at")),
    )
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schedule_runs_start_checked_at_start_by"),
            ["start_checked_at", "start_by"],
            unique=False,
        )
    op.create_table(
        "supervision_episodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(length=32), nullable=False),
        sa.Column("started_at", UTC_TIME(timezone=True), nullable=False),
        sa.Column("liveness", sa.String(length=16), nullable=False),
        sa.Column("nudges", sa.Integer(), nullable=False),
        sa.Column("reassigned", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("last_step_at", UTC_TIME(timezone=True), nullable=True),
        sa.Column("ended_at", UTC_TIME(timezone=True), nullable=True),
        sa.Column("detail", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent"], ["agents.name"], name=op.f("fk_supervision_episodes_agent_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_episodes")),
    )
    with op.batch_alter_table("supervision_episodes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supervision_episodes_agent_ended_at"),
            ["agent", "ended_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("supervision_episodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_episodes_agent_ended_at"))
    op.drop_table("supervision_episodes")
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_runs_start_checked_at_start_by"))
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
