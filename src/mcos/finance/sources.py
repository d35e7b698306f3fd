"""Reading the rows of an ``.xlsx`` sheet or a ``.csv`` file, streamed, from an untrusted file.

A source is opened as a :class:`Table`: its header row, then its rows one at a time (openpyxl's
``read_only`` mode, the ``csv`` module), so a caller that aggregates as it goes holds one row at
a time whatever the size of the file. Every limit is checked before or while reading (file size,
the unzipped size of a workbook, rows, columns), and anything wrong with the file is a
:class:`WorkbookError` naming the file, the sheet and the row: never a crash, never a guess.
"""

from __future__ import annotations

import contextlib
import csv
import os
import posixpath
import pyexpat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcos.errors import InvalidInput

Opener = Callable[[str], BinaryIO]
"""Opens a source's path for reading (the runtime's opens only inside the agent's workspace)."""


def open_path(path: str) -> BinaryIO:
    """The plain opener, for files the caller already trusts to be where they are."""
    return open(path, "rb")


@dataclass(frozen=True)
class Limits:
    """What an untrusted source may be. The defaults take a 100,000-row export with room."""

    max_bytes: int = 64 * 2**20
    max_unzipped_bytes: int = 512 * 2**20
    """A workbook is a zip: its parts, unpacked, may not add up to more (a zip bomb)."""
    max_rows: int = 1_000_000
    max_columns: int = 256


SAFE_EXPAT = (2, 4, 1)
"""The first expat that bounds entity expansion (billion laughs). openpyxl parses with
defusedxml when it is installed (it is: a dependency), which refuses entities outright; the
expat check stands in case it is not. External entities are never fetched either way."""


class WorkbookError(InvalidInput):
    """A source that cannot be read as asked; the message names the file, sheet and row."""

    code = "bad_workbook"


class SourceRef(BaseModel):
    """Where rows come from: a file, the sheet of a workbook, the row holding the headers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, max_length=500, description="An .xlsx or .csv file.")
    sheet: str | None = Field(
        None, max_length=31, description="The workbook's sheet (default: its first); not for CSV."
    )
    header_row: int = Field(1, ge=1, le=1000, description="The row holding the column names.")

    @property
    def kind(self) -> Literal["xlsx", "csv"]:
        suffix = posixpath.splitext(self.path.lower())[1]
        if suffix in (".xlsx", ".xlsm"):
            return "xlsx"
        if suffix == ".csv":
            return "csv"
        hint = " (save it as .xlsx)" if suffix == ".xls" else ""
        raise WorkbookError(f"{self.path}: only .xlsx and .csv files are read{hint}", field="path")


@dataclass(frozen=True)
class CellRef:
    """One cell of a source, as evidence: ``actuals.xlsx!Transactions!D4521`` or, in a CSV,
    ``bank.csv!row 88 col amount`` (row 1 is the first line, as a spreadsheet shows it)."""

    path: str
    sheet: str | None
    row: int
    column: int
    """0-based."""
    column_name: str

    @property
    def coordinate(self) -> str:
        from openpyxl.utils import get_column_letter

        return f"{get_column_letter(self.column + 1)}{self.row}"

    @property
    def text(self) -> str:
        if self.sheet is None:
            return f"{self.path}!row {self.row} col {self.column_name}"
        return f"{self.path}!{quote_sheet(self.sheet)}!{self.coordinate}"

    def link(self, from_folder: str) -> tuple[str, str] | None:
        """(file, location) of a hyperlink to this cell from a workbook in ``from_folder``;
        ``None`` for a CSV, which has no cells to land on."""
        if self.sheet is None:
            return None
        relative = posixpath.relpath(self.path, from_folder or ".")
        return relative, f"{quote_sheet(self.sheet)}!{self.coordinate}"


def parse_ref(text: str) -> CellRef:
    """A reference as :attr:`CellRef.text` writes it, read back (the column's name of an
    ``.xlsx`` cell is its letter)."""
    path, sep, rest = text.partition("!")
    if sep and rest.startswith("row ") and " col " in rest:
        row, _, column = rest[4:].partition(" col ")
        if row.isdigit():
            return CellRef(path, None, int(row), -1, column)
    sheet, sep2, coordinate = rest.rpartition("!")
    if sep and sep2 and sheet:
        if sheet.startswith("'") and sheet.endswith("'"):
            sheet = sheet[1:-1].replace("''", "'")
        try:
            from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

            letters, row_number = coordinate_from_string(coordinate)
        except ValueError:
            pass
        else:
            index = column_index_from_string(letters) - 1
            return CellRef(path, sheet, row_number, index, letters)
    raise ValueError(f"{text!r} is not a cell reference such as 'file.xlsx!Sheet!D4'")


def quote_sheet(sheet: str) -> str:
    """A sheet name as a formula writes it: quoted unless plain letters, digits and ``_``."""
    if sheet.replace("_", "").isalnum() and not sheet[0].isdigit():
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


class Table:
    """An open sheet: ``header``, then :meth:`rows` streamed once."""

    def __init__(
        self,
        source: SourceRef,
        sheet: str | None,
        header: tuple[str, ...],
        rows: Iterator[tuple[int, tuple[Any, ...]]],
    ) -> None:
        self.source = source
        self.sheet = sheet
        """The sheet's real title (``None`` for a CSV)."""
        self.header = header
        self._rows = rows
        self.rows_read = 0

    @property
    def where(self) -> str:
        return f"{self.source.path}!{self.sheet}" if self.sheet else self.source.path

    def column(self, name: str) -> int:
        """The index of the column headed ``name`` (case and spaces aside)."""
        wanted = _fold(name)
        found = [i for i, h in enumerate(self.header) if _fold(h) == wanted]
        if len(found) == 1:
            return found[0]
        listed = ", ".join(repr(h) for h in self.header if h) or "none"
        if found:
            raise WorkbookError(f"{self.where}: {len(found)} columns are headed {name!r}")
        raise WorkbookError(f"{self.where}: no column {name!r}; the columns are {listed}")

    def ref(self, row: int, column: int) -> CellRef:
        return CellRef(self.source.path, self.sheet, row, column, self.header[column])

    def rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """(row number, values) of each row below the header that is not blank."""
        for number, values in self._rows:
            self.rows_read += 1
            yield number, values


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


@contextlib.contextmanager
def open_table(
    source: SourceRef, opener: Opener = open_path, limits: Limits | None = None
) -> Iterator[Table]:
    """Open ``source`` and read its header; the rows are read as the caller iterates."""
    limits = limits or Limits()
    kind = source.kind
    try:
        handle = opener(source.path)
    except OSError as exc:
        raise WorkbookError(f"{source.path}: cannot be opened ({exc.strerror})") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limits.max_bytes:
            raise WorkbookError(
                f"{source.path}: {size:,} bytes, more than the {limits.max_bytes:,} read"
            )
        if kind == "csv":
            if source.sheet is not None:
                raise WorkbookError(f"{source.path}: a CSV file has no sheets", field="sheet")
            yield _csv_table(source, handle, limits)
        else:
            with _xlsx_table(source, handle, limits) as table:
                yield table


def _csv_table(source: SourceRef, handle: BinaryIO, limits: Limits) -> Table:
    lines = _decoded_lines(handle)
    reader = csv.reader(lines, strict=True)

    def records() -> Iterator[tuple[int, tuple[Any, ...]]]:
        number = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise WorkbookError(
                    f"{source.path}: row {number + 1} cannot be read as CSV ({exc})"
                ) from None
            number += 1
            yield number, tuple(record)

    return _table(source, None, records(), limits)


def _decoded_lines(handle: BinaryIO) -> Iterator[str]:
    """UTF-8 (a BOM aside) decoded line by line, so that bad bytes fail on their own row."""
    first = True
    for raw in handle:
        if first and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        first = False
        yield raw.decode("utf-8")


@contextlib.contextmanager
def _xlsx_table(source: SourceRef, handle: BinaryIO, limits: Limits) -> Iterator[Table]:
    if pyexpat.version_info < SAFE_EXPAT:
        raise WorkbookError(
            f"{source.path}: not read: this Python's XML parser ({pyexpat.EXPAT_VERSION}) does "
            "not bound entity expansion; use a Python built with expat 2.4.1 or later"
        )
    try:
        with zipfile.ZipFile(handle) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WorkbookError(f"{source.path}: not an .xlsx workbook ({exc})") from None
    if unzipped > limits.max_unzipped_bytes:
        raise WorkbookError(
            f"{source.path}: unpacks to {unzipped:,} bytes, more than the "
            f"{limits.max_unzipped_bytes:,} read"
        )
    handle.seek(0)
    try:
        import openpyxl  # on first use: see the package's docstring

        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # an untrusted file may fail anywhere inside openpyxl
        raise WorkbookError(f"{source.path}: not a readable workbook ({why(exc)})") from None
    try:
        names = book.sheetnames
        name = source.sheet if source.sheet is not None else names[0]
        if name not in names:
            listed = ", ".join(repr(n) for n in names)
            raise WorkbookError(
                f"{source.path}: no sheet {name!r}; its sheets are {listed}", field="sheet"
            )
        sheet = book[name]
        if not hasattr(sheet, "reset_dimensions"):
            raise WorkbookError(f"{source.path}!{name} is a chart, not a sheet of cells")
        # The file's own <dimension> is untrusted: a wrong one would cut the rows short.
        sheet.reset_dimensions()
        where = f"{source.path}!{name}"

        def rows() -> Iterator[tuple[int, tuple[Any, ...]]]:
            number = 0
            cells = sheet.iter_rows(values_only=True)
            while True:
                try:
                    values = next(cells)
                except StopIteration:
                    return
                except Exception as exc:  # malformed XML, a bad cell type, ...
                    raise WorkbookError(
                        f"{where}: row {number + 1} cannot be read ({why(exc)})"
                    ) from None
                number += 1
                yield number, values

        yield _table(source, name, rows(), limits)
    finally:
        book.close()


def why(exc: BaseException) -> str:
    """The innermost cause of a parser's failure (openpyxl wraps it in a generic message)."""
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    text = str(exc) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"


def _table(
    source: SourceRef,
    sheet: str | None,
    raw: Iterator[tuple[int, tuple[Any, ...]]],
    limits: Limits,
) -> Table:
    where = f"{source.path}!{sheet}" if sheet else source.path
    header: tuple[str, ...] | None = None
    for number, values in raw:
        if number == source.header_row:
            header = tuple(
                _header(v, i) for i, v in enumerate(_trim(values, where, number, limits))
            )
            break
    if header is None or not any(header):
        raise WorkbookError(f"{where}: no header in row {source.header_row}", field="header_row")
    width = len(header)

    def rows() -> Iterator[tuple[int, tuple[Any, ...]]]:
        for number, values in raw:
            if number - source.header_row > limits.max_rows:
                raise WorkbookError(f"{where}: more than {limits.max_rows:,} rows; split the file")
            trimmed = _trim(values, where, number, limits)
            if not trimmed:
                continue  # a blank row
            if len(trimmed) < width:
                trimmed = trimmed + (None,) * (width - len(trimmed))
            yield number, trimmed

    return Table(source, sheet, header, rows())


def _trim(values: tuple[Any, ...], where: str, number: int, limits: Limits) -> tuple[Any, ...]:
    end = len(values)
    while end and (values[end - 1] is None or values[end - 1] == ""):
        end -= 1
    if end > limits.max_columns:
        raise WorkbookError(
            f"{where}: row {number} has {end} columns, more than the {limits.max_columns} read"
        )
    return tuple(values[:end])


def _header(value: Any, index: int) -> str:
    text = "" if value is None else " ".join(str(value).split())
    from openpyxl.utils import get_column_letter

    return text or f"column {get_column_letter(index + 1)}"
