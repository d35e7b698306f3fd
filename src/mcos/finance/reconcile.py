"""Reconciling two sources: what matches, what is on one side only, what is there twice, and
where the amounts disagree, each finding with the source cells that show it.

A :class:`Match` names two :class:`Side` s (a source, the columns that make the key, an
optional month column whose ``YYYY-MM`` joins the key, an optional amount column). Each side
is read once, streamed, into one small :class:`Tally` per key: a count, a total and the row
numbers of its first few rows (the evidence). Memory grows with the distinct keys, never with
the rows behind them: budget lines by month against 100,000 transactions hold a few hundred
tallies.

``compare="each"`` (invoices against payments, activations against installations): every key
is expected once a side; a repeat on a ``unique`` side is a duplicate, and amounts that differ
by more than ``tolerance`` are a mismatch. ``compare="totals"`` (a budget against actual
transactions): the rows of a key are summed, and a total beyond ``threshold_pct`` of the
budgeted one is a variance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mcos.finance.columns import as_amount, as_month, as_text, fold
from mcos.finance.sources import CellRef, Limits, Opener, SourceRef, Table, open_path, open_table

EVIDENCE_ROWS = 5
"""Rows of a key kept as evidence; a finding says how many more there are."""
MAX_FINDINGS = 5_000
"""Findings kept per match; the result counts the rest."""

Severity = Literal["high", "medium", "low"]
Kind = Literal["duplicate", "unmatched", "amount_mismatch", "over_budget", "under_budget"]


class Side(SourceRef):
    """One side of a match: where its rows are and which columns matter."""

    label: str | None = Field(
        None, max_length=40, description="What the side is called in findings (default: file)."
    )
    key: list[str] = Field(min_length=1, max_length=5, description="Columns making the key.")
    month: str | None = Field(
        None, description="A date or month column; its YYYY-MM joins the key."
    )
    amount: str | None = Field(None, description="The amount column, if amounts are compared.")
    unique: bool = Field(False, description="Each key appears once; a repeat is a duplicate.")

    @property
    def name(self) -> str:
        return self.label or self.path.rsplit("/", 1)[-1]


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    left: Side
    right: Side
    compare: Literal["each", "totals"] = "each"
    tolerance: Decimal = Field(Decimal("0.01"), ge=0, description="Amounts this close agree.")
    threshold_pct: Decimal = Field(
        Decimal("10"), ge=0, description="totals: a variance beyond this percentage is a finding."
    )
    material: Decimal = Field(
        Decimal("10000"), ge=0, description="A difference of at least this much is high severity."
    )

    @model_validator(mode="after")
    def _sides_agree(self) -> Self:
        if len(self.left.key) != len(self.right.key):
            raise ValueError("left and right need as many key columns each")
        if (self.left.month is None) != (self.right.month is None):
            raise ValueError("give a month column on both sides or on neither")
        if (self.left.amount is None) != (self.right.amount is None):
            raise ValueError("give an amount column on both sides or on neither")
        if self.compare == "totals" and self.left.amount is None:
            raise ValueError("compare='totals' needs amount columns")
        return self


@dataclass(slots=True)
class Tally:
    """One key on one side: its rows counted and summed, the first few kept as evidence."""

    shown: tuple[str, ...]
    count: int = 0
    total: Decimal = Decimal(0)
    rows: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    kind: Kind
    severity: Severity
    check: str
    key: str
    description: str
    amount: Decimal | None
    evidence: tuple[CellRef, ...]
    more_rows: int = 0
    """Rows behind the finding beyond those in ``evidence``."""


@dataclass(frozen=True)
class SideRead:
    label: str
    path: str
    sheet: str | None
    rows: int
    keys: int
    total: Decimal | None


@dataclass
class Pair:
    """A key on either side or both (kept for a variance sheet)."""

    key: tuple[str, ...]
    left: Tally | None
    right: Tally | None
    left_ref: CellRef | None
    right_ref: CellRef | None


@dataclass
class MatchResult:
    name: str
    left: SideRead
    right: SideRead
    matched: int = 0
    matched_left_total: Decimal = Decimal(0)
    matched_right_total: Decimal = Decimal(0)
    left_only: int = 0
    right_only: int = 0
    duplicates: int = 0
    mismatches: int = 0
    findings: list[Finding] = field(default_factory=list)
    findings_cut: int = 0
    pairs: list[Pair] = field(default_factory=list)


@dataclass
class _Read:
    table: Table
    tallies: dict[tuple[str, ...], Tally]
    evidence_column: int


def read_side(side: Side, table: Table) -> _Read:
    """Stream ``table`` into one tally per key."""
    keys = [table.column(name) for name in side.key]
    month = table.column(side.month) if side.month else None
    amount = table.column(side.amount) if side.amount else None
    tallies: dict[tuple[str, ...], Tally] = {}
    for number, values in table.rows():
        shown = tuple(as_text(values[i]) for i in keys)
        if month is not None:
            shown += (as_month(values[month], table.ref(number, month)),)
        key = tuple(fold(part) for part in shown)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally(shown)
        tally.count += 1
        if amount is not None:
            tally.total += as_amount(values[amount], table.ref(number, amount))
        if len(tally.rows) < EVIDENCE_ROWS:
            tally.rows.append(number)
    return _Read(table, tallies, amount if amount is not None else keys[0])


def reconcile(
    match: Match,
    opener: Opener = open_path,
    limits: Limits | None = None,
    *,
    keep_pairs: bool = False,
) -> MatchResult:
    """Read both sides of ``match`` and compare them key by key."""
    with open_table(match.left, opener, limits) as table:
        left = read_side(match.left, table)
    with open_table(match.right, opener, limits) as table:
        right = read_side(match.right, table)
    amounts = match.left.amount is not None
    result = MatchResult(
        match.name, _side_read(match.left, left, amounts), _side_read(match.right, right, amounts)
    )
    _Comparison(match, left, right, result, keep_pairs).run()
    return result


def _side_read(side: Side, read: _Read, amounts: bool) -> SideRead:
    total = sum((t.total for t in read.tallies.values()), Decimal(0)) if amounts else None
    return SideRead(
        side.name, side.path, read.table.sheet, read.table.rows_read, len(read.tallies), total
    )


@dataclass
class _Comparison:
    match: Match
    left: _Read
    right: _Read
    result: MatchResult
    keep_pairs: bool

    def refs(self, read: _Read, tally: Tally) -> tuple[CellRef, ...]:
        return tuple(read.table.ref(row, read.evidence_column) for row in tally.rows)

    def add(
        self,
        kind: Kind,
        severity: Severity,
        shown: tuple[str, ...],
        description: str,
        amount: Decimal | None,
        tallies: Iterable[tuple[_Read, Tally]],
    ) -> None:
        if len(self.result.findings) >= MAX_FINDINGS:
            self.result.findings_cut += 1
            return
        evidence: tuple[CellRef, ...] = ()
        more = 0
        for read, tally in tallies:
            evidence += self.refs(read, tally)
            more += tally.count - len(tally.rows)
        self.result.findings.append(
            Finding(
                kind,
                severity,
                self.match.name,
                " / ".join(shown),
                description,
                amount,
                evidence,
                more,
            )
        )

    def severity(self, amount: Decimal) -> Severity:
        return "high" if abs(amount) >= self.match.material else "medium"

    def run(self) -> None:
        m, r = self.match, self.result
        ln, rn = m.left.name, m.right.name
        amounts = m.left.amount is not None
        for key in sorted(self.left.tallies.keys() | self.right.tallies.keys()):
            a = self.left.tallies.get(key)
            b = self.right.tallies.get(key)
            if self.keep_pairs:
                r.pairs.append(
                    Pair(
                        (a or b).shown if (a or b) else key,  # type: ignore[union-attr]
                        a,
                        b,
                        self.left.table.ref(a.rows[0], self.left.evidence_column) if a else None,
                        self.right.table.ref(b.rows[0], self.right.evidence_column) if b else None,
                    )
                )
            for read, side, tally, label in (
                (self.left, m.left, a, ln),
                (self.right, m.right, b, rn),
            ):
                if side.unique and tally is not None and tally.count > 1:
                    r.duplicates += 1
                    total = f", {tally.total:,.2f} in all" if amounts else ""
                    self.add(
                        "duplicate",
                        "high",
                        tally.shown,
                        f"{label}: {tally.count} rows for one key{total}",
                        tally.total if amounts else None,
                        [(read, tally)],
                    )
            if a is None or b is None:
                only = a or b
                assert only is not None
                read, label, other = (self.left, ln, rn) if a else (self.right, rn, ln)
                if a:
                    r.left_only += 1
                else:
                    r.right_only += 1
                low = m.compare == "totals" and a is not None  # budgeted, nothing spent
                money = f" ({only.total:,.2f})" if amounts else ""
                self.add(
                    "unmatched",
                    "low" if low else self.severity(only.total),
                    only.shown,
                    f"in {label}{money} but not in {other}",
                    only.total if amounts else None,
                    [(read, only)],
                )
                continue
            r.matched += 1
            r.matched_left_total += a.total
            r.matched_right_total += b.total
            if amounts:
                self.compare(a, b)

    def compare(self, a: Tally, b: Tally) -> None:
        m = self.match
        difference = b.total - a.total
        both = [(self.left, a), (self.right, b)]
        if (m.left.unique and a.count > 1) or (m.right.unique and b.count > 1):
            return  # the duplicate is the finding; its doubled total is no second one
        if m.compare == "each":
            if abs(difference) > m.tolerance:
                self.result.mismatches += 1
                self.add(
                    "amount_mismatch",
                    self.severity(difference),
                    a.shown,
                    f"{m.left.name} {a.total:,.2f}, {m.right.name} {b.total:,.2f}: "
                    f"{difference:+,.2f}",
                    difference,
                    both,
                )
            return
        if a.total == 0:
            if b.total != 0:
                self.result.mismatches += 1
                self.add(
                    "over_budget",
                    self.severity(b.total),
                    a.shown,
                    f"{m.right.name} {b.total:,.2f} against a zero {m.left.name}",
                    difference,
                    both,
                )
            return
        pct = difference / abs(a.total) * 100
        if abs(pct) <= m.threshold_pct:
            return
        self.result.mismatches += 1
        if pct > 0:
            severity: Severity = "high" if pct > 2 * m.threshold_pct else "medium"
            kind: Kind = "over_budget"
            said = f"over {m.left.name} by {difference:,.2f} ({pct:.1f}%)"
        else:
            severity, kind = "low", "under_budget"
            said = f"under {m.left.name} by {-difference:,.2f} ({-pct:.1f}%)"
        self.add(
            kind,
            severity,
            a.shown,
            f"{m.right.name} {b.total:,.2f} against {m.left.name} {a.total:,.2f}: {said}",
            difference,
            both,
        )
