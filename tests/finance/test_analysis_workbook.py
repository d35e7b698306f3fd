"""The analysis workbook of the Velocity Fibre sample, opened again cell by cell: formulas are
formulas, their values (computed by pycel, as a spreadsheet would) agree with totals computed
here straight from the source files, and every finding's evidence names source cells that hold
what the finding says."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pycel import ExcelCompiler

from mcos.finance import analyse, write_report
from mcos.finance.sample import Sample, generate
from mcos.finance.sources import CellRef, parse_ref


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return generate(tmp_path_factory.mktemp("velocity"), transactions=600)


@pytest.fixture(scope="module")
def output(sample: Sample) -> Path:
    path = sample.folder / "out" / "analysis.xlsx"
    path.parent.mkdir()
    path.write_bytes(write_report(analyse(sample.spec()), str(path)))
    return path


def month_of(value: Any) -> str:
    return value.strftime("%Y-%m") if hasattr(value, "strftime") else str(value)[:7]


def sheet_rows(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(path)
    return [tuple(r) for r in book[sheet].iter_rows(values_only=True)]


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def expected_totals(sample: Sample) -> tuple[dict[tuple[str, str], float], ...]:
    """Budget and actual by (line, month), straight from the sources."""
    budget: dict[tuple[str, str], float] = defaultdict(float)
    for line, month, amount in sheet_rows(sample.files["budget.xlsx"], "Budget")[1:]:
        budget[(line, month_of(month))] += amount
    actual: dict[tuple[str, str], float] = defaultdict(float)
    for day, _ref, _sup, line, _desc, amount in sheet_rows(
        sample.files["actuals.xlsx"], "Transactions"
    )[1:]:
        actual[(line, month_of(day))] += amount
    return budget, actual


def test_formulas_stay_formulas_and_compute_the_variance(sample: Sample, output: Path) -> None:
    book = openpyxl.load_workbook(output)
    assert book.sheetnames == ["Summary", "Variance", "Cost per unit", "Findings"]
    ws = book["Variance"]
    evaluate = ExcelCompiler(filename=str(output)).evaluate
    budget, actual = expected_totals(sample)
    keys = sorted(budget.keys() | actual.keys(), key=lambda k: (k[0].casefold(), k[1]))
    rows = list(ws.iter_rows(min_row=2, max_row=len(keys) + 1))
    assert [(r[0].value, r[1].value) for r in rows] == keys
    for r in rows:
        n = r[0].row
        assert r[4].value == f"=D{n}-C{n}", "the variance is a live formula"
        assert r[5].value == f'=IF(C{n}=0,"",E{n}/C{n})'
        key = (r[0].value, r[1].value)
        assert r[2].value == pytest.approx(budget.get(key, 0.0))
        assert r[3].value == pytest.approx(actual.get(key, 0.0))
        assert evaluate(f"Variance!E{n}") == pytest.approx(actual.get(key, 0) - budget.get(key, 0))
        if budget.get(key):
            share = (actual.get(key, 0) - budget[key]) / budget[key]
            assert evaluate(f"Variance!F{n}") == pytest.approx(share)
        else:
            assert evaluate(f"Variance!F{n}") == "", "no percentage of a zero budget"
    total = len(keys) + 2
    assert ws[f"A{total}"].value == "Total"
    assert ws[f"C{total}"].value == f"=SUM(C2:C{total - 1})"
    assert evaluate(f"Variance!C{total}") == pytest.approx(sum(budget.values()))
    assert evaluate(f"Variance!D{total}") == pytest.approx(sum(actual.values()))
    # By cost line: SUMIFS over the rows above.
    by_line = {r[0].value: r[0].row for r in ws.iter_rows(min_row=total + 3) if r[0].value}
    assert set(by_line) == {k[0] for k in keys}
    for line, n in by_line.items():
        assert ws[f"D{n}"].value.startswith("=SUMIFS(")
        spent = sum(v for k, v in actual.items() if k[0] == line)
        assert evaluate(f"Variance!D{n}") == pytest.approx(spent)
    summary = book["Summary"]
    assert summary["B3"].value == f"=Variance!C{total}"
    assert evaluate("Summary!B3") == pytest.approx(sum(budget.values()))
    assert evaluate("Summary!B4") == pytest.approx(sum(actual.values()))


def test_cost_per_activation_is_cost_over_activations(sample: Sample, output: Path) -> None:
    _budget, actual = expected_totals(sample)
    activations = Counter(row[2][:7] for row in csv_rows(sample.files["activations.csv"])[1:])
    ws = openpyxl.load_workbook(output)["Cost per unit"]
    evaluate = ExcelCompiler(filename=str(output)).evaluate
    assert [c.value for c in ws[1]] == ["Month", "Cost", "Activations", "Cost per activation"]
    months = sorted(activations)
    for n, month in enumerate(months, start=2):
        assert ws[f"A{n}"].value == month
        assert ws[f"C{n}"].value == activations[month]
        assert ws[f"D{n}"].value == f'=IF(C{n}=0,"",B{n}/C{n})'
        cost = sum(v for k, v in actual.items() if k[1] == month)
        assert evaluate(f"'Cost per unit'!B{n}") == pytest.approx(cost)
        assert evaluate(f"'Cost per unit'!D{n}") == pytest.approx(cost / activations[month])
    total = len(months) + 2
    overall = sum(actual.values()) / sum(activations.values())
    assert evaluate(f"'Cost per unit'!D{total}") == pytest.approx(overall)
    assert evaluate("Summary!B7") == pytest.approx(overall), "the summary's cost per activation"


def read_cell(sample: Sample, ref: CellRef) -> tuple[Any, dict[str, Any]]:
    """The referenced cell's value and its whole row by column name, read without mcos."""
    path = Path(ref.path)
    if ref.sheet is None:
        rows = csv_rows(path)
        row = dict(zip(rows[0], rows[ref.row - 1], strict=True))
        return row[ref.column_name], row
    ws = openpyxl.load_workbook(path)[ref.sheet]
    header = [c.value for c in ws[1]]
    row = dict(zip(header, [c.value for c in ws[ref.row]], strict=False))
    return ws[ref.coordinate].value, row


KEY_COLUMN = {
    "budget.xlsx": "Cost line",
    "actuals.xlsx": "Cost line",
    "invoices.xlsx": "Invoice",
    "bank.csv": "reference",
    "installations.xlsx": "Order",
    "activations.csv": "order",
}


def test_findings_are_the_planted_ones_and_cite_their_cells(sample: Sample, output: Path) -> None:
    rows = sheet_rows(output, "Findings")
    header, findings = rows[0], rows[1:]
    at = {name: i for i, name in enumerate(header)}
    found = {(f[at["Check"]], f[at["Kind"]], f[at["Key"]]) for f in findings}
    planted = {(p.check, p.kind, p.key) for p in sample.planted}
    assert found == planted, "every planted anomaly found, nothing else"
    assert len(findings) == 11, "the seed's eleven audit findings"
    assert [f[at["ID"]] for f in findings] == [f"F-{n:03d}" for n in range(1, 12)]
    for f in findings:
        refs = [parse_ref(text) for text in f[at["Evidence"]].split("; ")]
        assert refs, f"{f[at['ID']]} has evidence"
        line = f[at["Key"]].split(" / ")[0]
        for ref in refs:
            value, row = read_cell(sample, ref)
            name = Path(ref.path).name
            assert row[KEY_COLUMN[name]] == line, f"{ref.text} is a row of {line}"
            if f[at["Amount"]] is not None:
                assert value not in (None, ""), f"{ref.text} holds an amount"
    # Over budget: the evidence is the budget cell, then the first actual rows; with the rows
    # not listed they add up to the actual rows of that line and month.
    over = next(f for f in findings if f[at["Kind"]] == "over_budget")
    refs = [parse_ref(t) for t in over[at["Evidence"]].split("; ")]
    assert Path(refs[0].path).name == "budget.xlsx" and refs[0].coordinate.startswith("C")
    line, month = over[at["Key"]].split(" / ")
    spent = [
        r
        for r in sheet_rows(sample.files["actuals.xlsx"], "Transactions")[1:]
        if r[3] == line and month_of(r[0]) == month
    ]
    assert len(refs) - 1 + over[at["More rows"]] == len(spent)
    mismatch = next(f for f in findings if f[at["Kind"]] == "amount_mismatch")
    invoice, paid = (
        read_cell(sample, parse_ref(t))[0] for t in mismatch[at["Evidence"]].split("; ")
    )
    assert Decimal(str(invoice)) - Decimal(paid) == Decimal("1500.00")
    assert mismatch[at["Amount"]] == pytest.approx(-1500.0)


def test_evidence_in_a_workbook_is_a_hyperlink_to_its_cell(output: Path) -> None:
    ws = openpyxl.load_workbook(output)["Findings"]
    linked = 0
    for row in ws.iter_rows(min_row=2):
        for cell in row[9:]:
            if cell.value is None:
                continue
            ref = parse_ref(cell.value)
            if ref.sheet is None:
                assert cell.hyperlink is None, "a CSV row has no cell to link to"
                continue
            linked += 1
            assert cell.hyperlink.target == "../" + Path(ref.path).name
            assert cell.hyperlink.location == f"{ref.sheet}!{ref.coordinate}"
    assert linked > 5


def test_summary_counts_findings_by_severity_with_formulas(output: Path) -> None:
    ws = openpyxl.load_workbook(output)["Summary"]
    evaluate = ExcelCompiler(filename=str(output)).evaluate
    severities = Counter(r[1] for r in sheet_rows(output, "Findings")[1:])
    cells = {ws[f"A{n}"].value: n for n in range(1, ws.max_row + 1)}
    for severity in ("high", "medium", "low"):
        n = cells[severity]
        assert ws[f"B{n}"].value.startswith("=COUNTIF(Findings!")
        assert evaluate(f"Summary!B{n}") == severities[severity]
