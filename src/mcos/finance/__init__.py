"""Finance workbooks: read .xlsx sheets and .csv files streamed, reconcile them, and write an
analysis workbook of live formulas whose findings cite the source cells. See README.md.

openpyxl is imported on first use (a source opened, a report written), not with this package:
every runner loads the finance tools, and most of its agents never open a workbook.
"""

from typing import Any

from mcos.finance.analysis import Analysis, AnalysisSpec, Units, analyse
from mcos.finance.reconcile import Finding, Match, MatchResult, Side, reconcile
from mcos.finance.sources import CellRef, Limits, SourceRef, WorkbookError, open_table

__all__ = [
    "Analysis",
    "AnalysisSpec",
    "CellRef",
    "Finding",
    "Limits",
    "Match",
    "MatchResult",
    "Side",
    "SourceRef",
    "Units",
    "WorkbookError",
    "analyse",
    "open_table",
    "reconcile",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name == "write_report":  # openpyxl's writer: loaded when first asked for
        from mcos.finance.report import write_report

        return write_report
    raise AttributeError(f"module 'mcos.finance' has no attribute {name!r}")
