"""usage totals

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 17:20:00.000000

Running totals of usage per agent, model and UTC quarter-hour, hour and day, so a budget check
reads a bounded number of rows whatever the month holds (``services/usage_totals.py``). They
are filled here from every existing usage row, in Python on both back ends, so that the
figures are exact (whole micro-dollars) and equal to the rows' sum. Self-contained: the bucket
rule is written out here rather than imported, so this revision does not change if the code does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from alembic import op

import mcos.storage.tables

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SUMS = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microusd",
)
CHUNK = 1_000


def _buckets(ts: datetime) -> list[tuple[str, datetime]]:
    ts = ts.astimezone(UTC)
    hour = ts.replace(minute=0, second=0, microsecond=0)
    return [
        ("quarter", hour.replace(minute=ts.minute - ts.minute % 15)),
        ("hour", hour),
        ("day", hour.replace(hour=0)),
    ]


def upgrade() -> None:
    totals = op.create_table(
        "usage_totals",
        sa.Column("agent", sa.String(length=32), nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("starts", mcos.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_microusd", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("agent", "grain", "starts", "model", name=op.f("pk_usage_totals")),
    )
    with op.batch_alter_table("usage_totals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usage_totals_grain_starts"), ["grain", "starts"], unique=False
        )

    usage = sa.table(
        "usage",
        sa.column("ts", mcos.storage.tables.UTCDateTime(timezone=True)),
        sa.column("agent", sa.String()),
        sa.column("model", sa.String()),
        sa.column("input_tokens", sa.Integer()),
        sa.column("output_tokens", sa.Integer()),
        sa.column("cache_read_tokens", sa.Integer()),
        sa.column("cache_write_tokens", sa.Integer()),
        sa.column("cost_usd", sa.Numeric(precision=14, scale=6)),
    )
    sums: dict[tuple[str, str, datetime, str], list[int]] = {}
    rows = op.get_bind().execute(
        sa.select(usage).execution_options(stream_results=True, yield_per=10_000)
    )
    for row in rows:
        micro = int(Decimal(row.cost_usd).quantize(Decimal("0.000001"), ROUND_HALF_UP).scaleb(6))
        values = (
            1,
            row.input_tokens,
            row.output_tokens,
            row.cache_read_tokens,
            row.cache_write_tokens,
            micro,
        )
        for grain, starts in _buckets(row.ts):
            total = sums.setdefault((row.agent, grain, starts, row.model), [0] * len(SUMS))
            for i, value in enumerate(values):
                total[i] += value
    filled = [
        {"agent": agent, "grain": grain, "starts": starts, "model": model}
        | dict(zip(SUMS, total, strict=True))
        for (agent, grain, starts, model), total in sorted(sums.items())
    ]
    for at in range(0, len(filled), CHUNK):
        op.bulk_insert(totals, filled[at : at + CHUNK])


def downgrade() -> None:
    with op.batch_alter_table("usage_totals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_totals_grain_starts"))
    op.drop_table("usage_totals")
