"""Finance workbooks: read .xlsx sheets and .csv files streamed, reconcile them, and write an
analysis workbook of live formulas whose findings cite the source cells. See README.md."""

from mcos.finance.analysis import Analysis, AnalysisSpec, Units, analyse
from mcos.finance.reconcile import Finding, Match, MatchResult, Side, reconcile
from mcos.finance.report import write_report
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
