"""Previews of artifacts, computed on the server from the stored bytes: text, never markup.

An agent's file is untrusted. The dashboard shows what this returns with ``textContent`` (and
Markdown through its own renderer, which escapes), never the file itself inline. Kinds:

- ``text`` / ``markdown`` (``text/*``, ``.md``, ``.csv``, ``.txt``, JSON): the text, clipped;
- ``docx``: the paragraphs, and each table's rows (python-docx);
- ``xlsx``: the first :data:`XLSX_ROWS` rows of each sheet, values only (openpyxl, read-only);
- ``none``: anything else.

Every kind but ``none`` carries ``text``, which is what the ``read_artifact`` tool gives the model.
A file that claims to be a document but cannot be read is :class:`PreviewFailed` (422), not a 500.
Office files are ZIP archives: one whose members would unpack past :data:`MAX_UNPACKED` bytes is
refused before it is parsed (a zip bomb), and their XML is read without entities (defusedxml,
which openpyxl uses when it is installed; python-docx resolves none).
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time
from typing import Any

from mcos.archives import MAX_UNPACKED, unpacked_size
from mcos.errors import UserError

TEXT_CHARS = 20_000
"""Characters of a text file shown; the rest is cut (``clipped``)."""
DOCX_PARAGRAPHS = 400
XLSX_ROWS = 20
XLSX_COLUMNS = 30
XLSX_SHEETS = 12
CELL_CHARS = 200

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT_APPLICATION_TYPES = frozenset({"application/json", "application/xml", "application/x-yaml"})
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".csv", ".tsv", ".json", ".log", ".yaml", ".yml")


class PreviewFailed(UserError):
    status = 422
    code = "preview_failed"


def preview(name: str, content_type: str, content: bytes) -> dict[str, Any]:
    """The preview of one artifact version (see the module's docstring for its shapes)."""
    kind = content_type.split(";", 1)[0].strip()
    lowered = name.lower()
    if kind == DOCX or lowered.endswith(".docx"):
        return _docx(name, content)
    if kind == XLSX or lowered.endswith(".xlsx"):
        return _xlsx(name, content)
    if (
        kind.startswith("text/")
        or kind in TEXT_APPLICATION_TYPES
        or lowered.endswith(TEXT_SUFFIXES)
    ):
        markdown = kind == "text/markdown" or lowered.endswith((".md", ".markdown"))
        text = content.decode("utf-8", errors="replace")
        return {
            "kind": "markdown" if markdown else "text",
            "text": text[:TEXT_CHARS],
            "clipped": len(text) > TEXT_CHARS,
        }
    return {"kind": "none"}


def _archive(name: str, content: bytes, what: str) -> None:
    """Refuse a file that is not a ZIP, or that unpacks past :data:`MAX_UNPACKED`."""
    try:
        unpacked = unpacked_size(content)
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise PreviewFailed(
            f"{name} is not a readable {what} file: {exc}", field="content"
        ) from None
    if unpacked > MAX_UNPACKED:
        raise PreviewFailed(
            f"{name} would unpack to {unpacked:,} bytes, more than the {MAX_UNPACKED:,} a "
            "preview reads; download it instead",
            field="content",
        )


def _docx(name: str, content: bytes) -> dict[str, Any]:
    import docx  # python-docx: imported on first use, it is not small

    _archive(name, content, ".docx")
    try:
        document = docx.Document(io.BytesIO(content))
        paragraphs = [p.text for p in document.paragraphs]
        tables = [
            [[cell.text[:CELL_CHARS] for cell in row.cells] for row in table.rows]
            for table in document.tables
        ]
    except Exception as exc:  # python-docx raises many kinds for a broken file
        raise PreviewFailed(
            f"{name} is not a readable .docx file: {type(exc).__name__}: {exc}", field="content"
        ) from None
    clipped = len(paragraphs) > DOCX_PARAGRAPHS
    paragraphs = paragraphs[:DOCX_PARAGRAPHS]
    lines = [*paragraphs]
    for table in tables:
        lines += [" | ".join(row) for row in table]
    return {
        "kind": "docx",
        "paragraphs": paragraphs,
        "tables": tables,
        "clipped": clipped,
        "text": "\n".join(lines)[:TEXT_CHARS],
    }


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)[:CELL_CHARS]


def _trimmed(row: list[Any]) -> list[Any]:
    """A row without its trailing empty cells (read-only sheets pad rows to the width asked)."""
    while row and row[-1] is None:
        row.pop()
    return row


def _xlsx(name: str, content: bytes) -> dict[str, Any]:
    import openpyxl

    _archive(name, content, ".xlsx")
    sheets: list[dict[str, Any]] = []
    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            for sheet in book.worksheets[:XLSX_SHEETS]:
                rows = [
                    _trimmed([_cell(v) for v in row])
                    for row in sheet.iter_rows(
                        max_row=XLSX_ROWS, max_col=XLSX_COLUMNS, values_only=True
                    )
                ]
                sheets.append(
                    {
                        "name": sheet.title,
                        "rows": rows,
                        "clipped": (sheet.max_row or 0) > XLSX_ROWS
                        or (sheet.max_column or 0) > XLSX_COLUMNS,
                    }
                )
            more_sheets = len(book.worksheets) > XLSX_SHEETS
        finally:
            book.close()
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise PreviewFailed(
            f"{name} is not a readable .xlsx file: {type(exc).__name__}: {exc}", field="content"
        ) from None
    lines = []
    for shown in sheets:
        lines.append(f"## {shown['name']}")
        lines += ["\t".join("" if v is None else str(v) for v in row) for row in shown["rows"]]
    return {
        "kind": "xlsx",
        "sheets": sheets,
        "clipped": more_sheets,
        "text": "\n".join(lines)[:TEXT_CHARS],
    }
