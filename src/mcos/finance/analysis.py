"""An analysis: budget against actuals by cost line and month, cost per unit by month, and
further matches (invoices against payments, activations against installations), read from the
sources and gathered for :mod:`mcos.finance.report` to write.

Only what the report needs is kept: a tally per (cost line, month), a count per month, and the
findings; never the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mcos.finance.columns import as_count, as_month
from mcos.finance.reconcile import Finding, Match, MatchResult, Pair, Side, SideRead, reconcile
from mcos.finance.sources import Limits, Opener, SourceRef, open_path, open_table


class Units(SourceRef):
    """What the cost is divided by: rows (or a count column) per month."""

    month: str = Field(description="The date or month column.")
    count: str | None = Field(None, description="A count column (default: each row is one).")
    unit: str = Field("activation", min_length=1, max_length=40, description="The unit's name.")


class AnalysisSpec(BaseModel):
    """What to analyse. ``variance`` compares a budget (left) with actuals (right) by totals;
    its key is the cost line and both sides name a month column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field("Variance analysis", min_length=1, max_length=120)
    variance: Match | None = None
    units: Units | None = None
    checks: list[Match] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _variance_by_month(self) -> AnalysisSpec:
        v = self.variance
        if v is not None and (v.compare != "totals" or v.left.month is None):
            raise ValueError("variance compares totals by month: compare='totals' and months")
        if self.units is not None and v is None:
            raise ValueError("cost per unit needs the variance (its actual costs)")
        if v is None and not self.checks:
            raise ValueError("give a variance, checks, or both")
        return self


@dataclass
class UnitsRead:
    source: SourceRef
    sheet: str | None
    unit: str
    rows: int
    by_month: dict[str, int]


@dataclass
class Analysis:
    spec: AnalysisSpec
    variance: MatchResult | None = None
    units: UnitsRead | None = None
    checks: list[MatchResult] = field(default_factory=list)

    @property
    def pairs(self) -> list[Pair]:
        return self.variance.pairs if self.variance else []

    @property
    def findings(self) -> list[Finding]:
        found = list(self.variance.findings) if self.variance else []
        for check in self.checks:
            found.extend(check.findings)
        order = {"high": 0, "medium": 1, "low": 2}
        return sorted(found, key=lambda f: order[f.severity])  # stable: by check, then key

    @property
    def findings_cut(self) -> int:
        results = ([self.variance] if self.variance else []) + self.checks
        return sum(r.findings_cut for r in results)

    @property
    def sides(self) -> list[SideRead]:
        results = ([self.variance] if self.variance else []) + self.checks
        return [s for r in results for s in (r.left, r.right)]

    def months(self) -> list[str]:
        found = {p.key[-1] for p in self.pairs}
        if self.units:
            found |= set(self.units.by_month)
        return sorted(found)

    def actual_by_month(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for p in self.pairs:
            if p.right is not None:
                totals[p.key[-1]] = totals.get(p.key[-1], Decimal(0)) + p.right.total
        return totals


def read_units(units: Units, opener: Opener, limits: Limits | None) -> UnitsRead:
    with open_table(units, opener, limits) as table:
        month = table.column(units.month)
        count = table.column(units.count) if units.count else None
        by_month: dict[str, int] = {}
        for number, values in table.rows():
            key = as_month(values[month], table.ref(number, month))
            n = 1 if count is None else as_count(values[count], table.ref(number, count))
            by_month[key] = by_month.get(key, 0) + n
        return UnitsRead(units, table.sheet, units.unit, table.rows_read, by_month)


def analyse(
    spec: AnalysisSpec, opener: Opener = open_path, limits: Limits | None = None
) -> Analysis:
    """Read every source of ``spec`` once, streamed, and compare them."""
    result = Analysis(spec)
    if spec.variance is not None:
        result.variance = reconcile(spec.variance, opener, limits, keep_pairs=True)
    if spec.units is not None:
        result.units = read_units(spec.units, opener, limits)
    result.checks = [reconcile(check, opener, limits) for check in spec.checks]
    return result


__all__ = ["Analysis", "AnalysisSpec", "Match", "Side", "Units", "analyse"]
