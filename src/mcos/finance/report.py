"""The analysis workbook: Summary, Variance, Cost per unit, Findings, written in openpyxl's
``write_only`` mode (rows streamed to the file, none held).

Everything computed from other cells is a live formula: variance and variance % per row, SUM
totals, SUMIFS per cost line, cost per unit, the summary's figures and the findings counted by
severity. Only what was read from the sources is a value. Text from a source is written as
text even when it starts with ``=``: a cost line named ``=HYPERLINK(...)`` stays a name.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.hyperlink import Hyperlink

from mcos.finance.analysis import Analysis
from mcos.finance.sources import CellRef, quote_sheet

MONEY = "#,##0.00"
PERCENT = "0.0%"
EVIDENCE_LINKS = 6
"""Evidence cells given a column (and a hyperlink) each on the Findings sheet."""
BOLD = Font(bold=True)
LINK = Font(color="0563C1", underline="single")
VARIANCE, UNIT, FINDINGS = "Variance", "Cost per unit", "Findings"


def _cell(ws: WriteOnlyWorksheet, value: Any, fmt: str | None = None, bold: bool = False) -> Any:
    if isinstance(value, Decimal):
        value = float(value)
    cell = WriteOnlyCell(ws, value=value)
    if fmt:
        cell.number_format = fmt
    if bold:
        cell.font = BOLD
    return cell


def _text(ws: WriteOnlyWorksheet, value: str, bold: bool = False) -> Any:
    """Text as text, never a formula, whatever it starts with."""
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    if bold:
        cell.font = BOLD
    return cell


def _ref_cell(ws: WriteOnlyWorksheet, ref: CellRef | None, folder: str) -> Any:
    if ref is None:
        return None
    cell = _text(ws, ref.text)
    link = ref.link(folder)
    if link is not None:
        cell.hyperlink = Hyperlink(ref="", target=link[0], location=link[1], tooltip=ref.text)
        cell.font = LINK
    return cell


def _width(ws: WriteOnlyWorksheet, column: str, width: int) -> None:
    # Set up by openpyxl at runtime (Worksheet._setup); the stubs leave it out.
    ws.column_dimensions[column].width = width  # type: ignore[attr-defined]


def _header(ws: WriteOnlyWorksheet, names: Sequence[str], widths: Sequence[int]) -> None:
    for index, width in enumerate(widths):
        _width(ws, get_column_letter(index + 1), width)
    ws.append([_text(ws, name, bold=True) for name in names])


def write_report(analysis: Analysis, output_path: str) -> bytes:
    """The analysis workbook's bytes. ``output_path`` (where it will be saved) only makes the
    hyperlinks to the sources relative to it."""
    book = Workbook(write_only=True)
    folder = posixpath.dirname(output_path)
    layout = _Layout(analysis)
    _summary(book.create_sheet("Summary"), analysis, layout)
    if analysis.variance is not None:
        _variance(book.create_sheet(VARIANCE), analysis, layout, folder)
    if analysis.units is not None:
        _cost_per_unit(book.create_sheet(UNIT), analysis, layout)
    _findings(book.create_sheet(FINDINGS), analysis, folder)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class _Layout:
    """Where the totals land, known before any sheet is written (write-only cannot go back)."""

    def __init__(self, analysis: Analysis) -> None:
        self.pairs = len(analysis.pairs)
        self.last_pair = self.pairs + 1
        self.variance_total = self.pairs + 2
        self.months = analysis.months() if analysis.units else []
        self.unit_total = len(self.months) + 2
        self.findings = max(2, len(analysis.findings) + 1)


def _summary(ws: WriteOnlyWorksheet, analysis: Analysis, at: _Layout) -> None:
    _width(ws, "A", 30)
    for column in "BCDEF":
        _width(ws, column, 18)
    ws.append([_text(ws, analysis.spec.title, bold=True)])
    ws.append([])
    if analysis.variance is not None:
        v, t = VARIANCE, at.variance_total
        ws.append([_text(ws, "Budget", bold=True), _cell(ws, f"={v}!C{t}", MONEY)])
        ws.append([_text(ws, "Actual", bold=True), _cell(ws, f"={v}!D{t}", MONEY)])
        ws.append([_text(ws, "Variance", bold=True), _cell(ws, f"={v}!E{t}", MONEY)])
        ws.append([_text(ws, "Variance %", bold=True), _cell(ws, f"={v}!F{t}", PERCENT)])
    if analysis.units is not None:
        name = f"Cost per {analysis.units.unit}"
        formula = f"={quote_sheet(UNIT)}!D{at.unit_total}"
        ws.append([_text(ws, name, bold=True), _cell(ws, formula, MONEY)])
    ws.append([])
    ws.append([_text(ws, "Findings", bold=True), _text(ws, "count", bold=True)])
    for severity in ("high", "medium", "low"):
        formula = f'=COUNTIF({FINDINGS}!$B$2:$B${at.findings},"{severity}")'
        ws.append([_text(ws, severity), _cell(ws, formula)])
    if analysis.findings_cut:
        ws.append([_text(ws, f"{analysis.findings_cut} more findings were not listed")])
    ws.append([])
    ws.append(
        [_text(ws, h, bold=True) for h in ("Source", "File", "Sheet", "Rows", "Keys", "Total")]
    )
    for side in analysis.sides:
        total = _cell(ws, side.total, MONEY) if side.total is not None else None
        ws.append(
            [
                _text(ws, side.label),
                _text(ws, side.path),
                _text(ws, side.sheet or ""),
                side.rows,
                side.keys,
                total,
            ]
        )
    if analysis.units is not None:
        u = analysis.units
        units = sum(u.by_month.values())
        ws.append(
            [
                _text(ws, f"{u.unit}s"),
                _text(ws, u.source.path),
                _text(ws, u.sheet or ""),
                u.rows,
                len(u.by_month),
                units,
            ]
        )
    results = ([analysis.variance] if analysis.variance else []) + analysis.checks
    ws.append([])
    names = ("Check", "Matched", "Left only", "Right only", "Duplicates", "Mismatches")
    ws.append([_text(ws, h, bold=True) for h in names])
    for r in results:
        ws.append(
            [_text(ws, r.name), r.matched, r.left_only, r.right_only, r.duplicates, r.mismatches]
        )


def _variance(ws: WriteOnlyWorksheet, analysis: Analysis, at: _Layout, folder: str) -> None:
    _header(
        ws,
        (
            "Cost line",
            "Month",
            "Budget",
            "Actual",
            "Variance",
            "Variance %",
            "Actual rows",
            "Budget cell",
            "First actual cell",
        ),
        (28, 10, 16, 16, 16, 12, 12, 36, 36),
    )
    ws.freeze_panes = "A2"
    for row, pair in enumerate(analysis.pairs, start=2):
        budget = pair.left.total if pair.left else Decimal(0)
        actual = pair.right.total if pair.right else Decimal(0)
        ws.append(
            [
                _text(ws, " / ".join(pair.key[:-1])),
                _text(ws, pair.key[-1]),
                _cell(ws, budget, MONEY),
                _cell(ws, actual, MONEY),
                _cell(ws, f"=D{row}-C{row}", MONEY),
                _cell(ws, f'=IF(C{row}=0,"",E{row}/C{row})', PERCENT),
                pair.right.count if pair.right else 0,
                _ref_cell(ws, pair.left_ref, folder),
                _ref_cell(ws, pair.right_ref, folder),
            ]
        )
    t, last = at.variance_total, at.last_pair
    ws.append(
        [
            _text(ws, "Total", bold=True),
            None,
            _cell(ws, f"=SUM(C2:C{last})", MONEY, bold=True),
            _cell(ws, f"=SUM(D2:D{last})", MONEY, bold=True),
            _cell(ws, f"=D{t}-C{t}", MONEY, bold=True),
            _cell(ws, f'=IF(C{t}=0,"",E{t}/C{t})', PERCENT, bold=True),
            _cell(ws, f"=SUM(G2:G{last})", bold=True),
        ]
    )
    ws.append([])
    ws.append([_text(ws, "By cost line", bold=True)])
    lines = sorted({" / ".join(p.key[:-1]) for p in analysis.pairs})
    for row, line in enumerate(lines, start=t + 3):
        ws.append(
            [
                _text(ws, line),
                None,
                _cell(ws, f"=SUMIFS(C$2:C${last},$A$2:$A${last},$A{row})", MONEY),
                _cell(ws, f"=SUMIFS(D$2:D${last},$A$2:$A${last},$A{row})", MONEY),
                _cell(ws, f"=D{row}-C{row}", MONEY),
                _cell(ws, f'=IF(C{row}=0,"",E{row}/C{row})', PERCENT),
            ]
        )


def _cost_per_unit(ws: WriteOnlyWorksheet, analysis: Analysis, at: _Layout) -> None:
    assert analysis.units is not None
    unit = analysis.units.unit
    _header(ws, ("Month", "Cost", f"{unit.capitalize()}s", f"Cost per {unit}"), (12, 18, 16, 18))
    last = at.last_pair
    for row, month in enumerate(at.months, start=2):
        cost = f"=SUMIFS({VARIANCE}!$D$2:$D${last},{VARIANCE}!$B$2:$B${last},A{row})"
        ws.append(
            [
                _text(ws, month),
                _cell(ws, cost, MONEY),
                analysis.units.by_month.get(month, 0),
                _cell(ws, f'=IF(C{row}=0,"",B{row}/C{row})', MONEY),
            ]
        )
    t = at.unit_total
    ws.append(
        [
            _text(ws, "Total", bold=True),
            _cell(ws, f"=SUM(B2:B{t - 1})", MONEY, bold=True),
            _cell(ws, f"=SUM(C2:C{t - 1})", bold=True),
            _cell(ws, f'=IF(C{t}=0,"",B{t}/C{t})', MONEY, bold=True),
        ]
    )


def _findings(ws: WriteOnlyWorksheet, analysis: Analysis, folder: str) -> None:
    names = [
        "ID",
        "Severity",
        "Kind",
        "Check",
        "Key",
        "Description",
        "Amount",
        "Evidence",
        "More rows",
    ] + [f"Cell {i}" for i in range(1, EVIDENCE_LINKS + 1)]
    widths = [8, 10, 16, 24, 28, 60, 16, 60, 10] + [36] * EVIDENCE_LINKS
    _header(ws, names, widths)
    ws.freeze_panes = "A2"
    for number, f in enumerate(analysis.findings, start=1):
        amount = _cell(ws, f.amount, MONEY) if f.amount is not None else None
        ws.append(
            [
                _text(ws, f"F-{number:03d}"),
                _text(ws, f.severity),
                _text(ws, f.kind),
                _text(ws, f.check),
                _text(ws, f.key),
                _text(ws, f.description),
                amount,
                _text(ws, "; ".join(ref.text for ref in f.evidence)),
                f.more_rows,
                *(_ref_cell(ws, ref, folder) for ref in f.evidence[:EVIDENCE_LINKS]),
            ]
        )
