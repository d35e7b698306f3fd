"""Blocks to a ``.docx`` (python-docx), and a ``.docx`` back to its paragraphs' text.

Clause numbers are written as text (``1.1<TAB>``) with a hanging indent rather than as Word
list numbering: they read the same in every word processor and survive a copy into an email.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.exceptions import PackageNotFoundError
from docx.shared import Cm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

from mcos.archives import MAX_UNPACKED, unpacked_size
from mcos.errors import InvalidInput
from mcos.legal.compose import Block

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
INDENT_CM = (1.25, 2.5, 4.0, 5.5)
"""Where the text of a clause at each level starts; its number hangs to the left of it."""
HANG_CM = (1.25, 1.25, 1.5, 1.5)


def write_docx(blocks: list[Block], *, title: str, author: str) -> bytes:
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(11)
    for section in document.sections:
        section.left_margin = section.right_margin = Cm(2.5)
        section.top_margin = section.bottom_margin = Cm(2.0)
    document.core_properties.title = title
    document.core_properties.author = author
    for block in blocks:
        paragraph = document.add_paragraph()
        fmt = paragraph.paragraph_format
        fmt.space_after = Pt(6)
        if block.kind in ("title", "centre"):
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if block.number:
            level = min(block.level, len(INDENT_CM) - 1)
            fmt.left_indent = Cm(INDENT_CM[level])
            fmt.first_line_indent = Cm(-HANG_CM[level])
            number = f"{block.number}." if block.level == 0 else block.number
            paragraph.add_run(f"{number}\t").bold = block.kind == "heading"
        if block.kind in ("heading", "signature"):
            fmt.keep_with_next = True
        if block.kind == "heading" and not block.number:
            fmt.space_before = Pt(18)
        for piece in block.runs:
            run = paragraph.add_run(piece.text)
            run.bold = piece.bold or block.kind in ("title", "heading")
            if block.kind == "title":
                run.font.size = Pt(14)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _paragraphs(container: DocxDocument | Table) -> Iterator[Paragraph]:
    if isinstance(container, Table):
        for row in container.rows:
            for cell in row.cells:
                yield from cell.paragraphs
                for inner in cell.tables:
                    yield from _paragraphs(inner)
        return
    yield from container.paragraphs
    for table in container.tables:
        yield from _paragraphs(table)


def read_docx(content: bytes) -> list[Paragraph]:
    """Every paragraph of a ``.docx``, the body's and its tables' (a signature block is often
    in a table); an unreadable file, or one that would unpack past
    :data:`~mcos.archives.MAX_UNPACKED`, is the caller's error."""
    try:
        unpacked = unpacked_size(content)
        if unpacked > MAX_UNPACKED:
            raise InvalidInput(
                f"the .docx would unpack to {unpacked:,} bytes, more than {MAX_UNPACKED:,}",
                field="content",
            )
        document = Document(io.BytesIO(content))
    except (
        PackageNotFoundError,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        SyntaxError,  # lxml's XMLSyntaxError: a part that is not XML
    ) as exc:
        raise InvalidInput(f"not a readable .docx file: {exc}", field="content") from None
    return list(_paragraphs(document))


def docx_text(content: bytes) -> list[str]:
    return [p.text for p in read_docx(content)]
