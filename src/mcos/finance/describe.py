"""What is in a workbook or CSV: its sheets, each with its header, first rows and row count,
read as every source is (streamed, under the same limits)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import openpyxl

from mcos.finance.columns import as_text
from mcos.finance.sources import (
    Limits,
    Opener,
    SourceRef,
    WorkbookError,
    open_path,
    open_table,
    why,
)

MAX_SHEETS = 20
"""Sheets described; a workbook with more says how many it left out."""


@dataclass(frozen=True)
class SheetSummary:
    sheet: str | None
    header: tuple[str, ...]
    first_rows: tuple[tuple[str, ...], ...]
    rows: int
    """Rows below the header that are not blank."""


def sheet_names(path: str, opener: Opener = open_path) -> list[str]:
    """The sheets of a workbook, in order (a CSV has none)."""
    if SourceRef(path=path).kind == "csv":
        return []
    with opener(path) as handle:
        try:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # an untrusted file may fail anywhere inside openpyxl
            raise WorkbookError(f"{path}: not a readable workbook ({why(exc)})") from None
        try:
            return list(book.sheetnames)
        finally:
            book.close()


def describe(
    path: str,
    *,
    sheet: str | None = None,
    rows: int = 5,
    header_row: int = 1,
    opener: Opener = open_path,
    limits: Limits | None = None,
) -> tuple[list[SheetSummary], int]:
    """Each sheet (or only ``sheet``) summarised; and how many sheets were left out."""
    names: list[str | None]
    if SourceRef(path=path).kind == "csv":
        names = [None]
    elif sheet is not None:
        names = [sheet]
    else:
        names = list(sheet_names(path, opener))
    left_out = max(0, len(names) - MAX_SHEETS)
    summaries = []
    for name in names[:MAX_SHEETS]:
        source = SourceRef(path=path, sheet=name, header_row=header_row)
        with open_table(source, opener, limits) as table:
            first: list[tuple[str, ...]] = []
            for _number, values in table.rows():
                if len(first) < rows:
                    first.append(tuple(_shown(v) for v in values))
            summaries.append(SheetSummary(table.sheet, table.header, tuple(first), table.rows_read))
    return summaries, left_out


def _shown(value: Any) -> str:
    text = as_text(value)
    return text if len(text) <= 80 else text[:77] + "..."
