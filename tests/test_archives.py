"""An Office file that would unpack past the limit is refused unread, by every reader."""

from __future__ import annotations

import io
import zipfile

import pytest

from mcos.archives import MAX_UNPACKED, unpacked_size
from mcos.errors import InvalidInput, UserError
from mcos.legal.docx_io import read_docx
from mcos.services.previews import DOCX, XLSX, preview


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A few hundred kilobytes that would unpack to more than the limit (zeros compress)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(MAX_UNPACKED // len(chunk) + 1):
                member.write(chunk)
    content = out.getvalue()
    assert len(content) < 2_000_000 and unpacked_size(content) > MAX_UNPACKED
    return content


def test_the_legal_checker_refuses_a_docx_that_would_unpack_too_far(bomb: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"would unpack to [\d,]+ bytes"):
        read_docx(bomb)


@pytest.mark.parametrize(("name", "content_type"), [("a.docx", DOCX), ("a.xlsx", XLSX)])
def test_a_preview_refuses_an_office_file_that_would_unpack_too_far(
    bomb: bytes, name: str, content_type: str
) -> None:
    with pytest.raises(UserError, match=r"would unpack to [\d,]+ bytes"):
        preview(name, content_type, bomb)
