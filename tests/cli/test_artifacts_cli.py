"""``mcos artifacts``, run as an operator runs it, against a real server.

SQLite only: the CLI translates; the artifact services run on both backends in their own tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest

from mcos.services.previews import DOCX, XLSX
from tests.fixtures.server import Server, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}") as srv:
        yield srv


def new_task(server: Server, title: str = "Velocity Fibre: March audit") -> int:
    with server.client() as operator:
        created = operator.post("/api/v1/tasks", json={"title": title, "assignee": "vega"})
        assert created.status_code == 201, created.text
        task_id: int = created.json()["id"]
        return task_id


def make_docx(path: Path, *paragraphs: str) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Finding", "F-01"
    document.save(str(path))
    return path.read_bytes()


def make_xlsx(path: Path) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Variance"
    sheet.append(["Line", "Budget", "Actual"])
    sheet.append(["Splicing", 75000, 80250.5])
    book.create_sheet("Findings").append(["F-01", "Invoice 118 paid twice"])
    book.save(path)
    return path.read_bytes()


def versions(server: Server, task_id: int) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        server.mcos("artifacts", "ls", str(task_id), "--json").stdout
    )["artifacts"]
    return listed


def test_files_go_up_and_come_back_the_same_with_previews(server: Server, tmp_path: Path) -> None:
    task_id = new_task(server)
    report = tmp_path / "audit.docx"
    first = make_docx(report, "Audit of March", "Eleven findings.")
    added = server.mcos("artifacts", "add", str(task_id), str(report), "--note", "first pass")
    assert added.stdout.startswith(f"attached audit.docx v1 to task #{task_id} (")
    second = make_docx(report, "Audit of March, revised", "Twelve findings.")
    assert second != first
    v2 = json.loads(server.mcos("artifacts", "add", str(task_id), str(report), "--json").stdout)
    assert (v2["name"], v2["version"], v2["content_type"]) == ("audit.docx", 2, DOCX)
    book = tmp_path / "workbook.xlsx"
    book_bytes = make_xlsx(book)
    server.mcos("artifacts", "add", str(task_id), str(book), "--name", "variance.xlsx")
    notes = tmp_path / "notes.txt"
    notes.write_text("a,b\n1,2\n")
    server.mcos("artifacts", "add", str(task_id), str(notes), "--type", "text/csv")

    listed = versions(server, task_id)
    assert [(a["name"], a["version"], a["content_type"]) for a in listed] == [
        ("notes.txt", 1, "text/csv"),
        ("variance.xlsx", 1, XLSX),
        ("audit.docx", 2, DOCX),
        ("audit.docx", 1, DOCX),
    ], "newest first, every version, types from the name unless --type"
    assert all(a["opened_by"] == [] for a in listed)
    v1 = next(a for a in listed if a["version"] == 1 and a["name"] == "audit.docx")
    assert v1["note"] == "first pass" and v1["size"] == len(first)
    table = server.mcos("artifacts", "ls", str(task_id)).stdout
    row = next(line for line in table.splitlines() if line.startswith(f"#{v2['id']} "))
    assert "audit.docx" in row and "v2" in row and "docx (Word)" in row and "operator" in row

    # By name: the newest version; by id: exactly that one.
    out = tmp_path / "out"
    out.mkdir()
    got = server.mcos("artifacts", "get", str(task_id), "audit.docx", "-o", str(out / "a.docx"))
    assert f"saved audit.docx v2 (#{v2['id']}" in got.stdout
    assert (out / "a.docx").read_bytes() == second
    server.mcos("artifacts", "get", str(task_id), str(v1["id"]), "-o", str(out))
    assert (out / "audit.docx").read_bytes() == first, "a folder gets the file under its name"
    again = server.mcos("artifacts", "get", str(task_id), "audit.docx", "-o", str(out / "a.docx"),
                        check=False)  # fmt: skip
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"error: {out / 'a.docx'} exists; pass --force to overwrite it (field: --output)"
    )
    server.mcos("artifacts", "get", str(task_id), str(v1["id"]), "-o", str(out / "a.docx"),
                "--force")  # fmt: skip
    assert (out / "a.docx").read_bytes() == first
    command = [sys.executable, "-m", "mcos", "artifacts", "get", str(task_id)]
    piped = subprocess.run(
        [*command, "variance.xlsx", "-o", "-"],
        env=server.env, capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    assert piped.stdout == book_bytes, "-o - writes the bytes, and only them, to stdout"
    # Without -o the file lands under its own name in the working directory.
    server_run = subprocess.run(
        [*command, "notes.txt"],
        env=server.env, cwd=out, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "saved notes.txt v1" in server_run.stdout
    assert (out / "notes.txt").read_text() == "a,b\n1,2\n"

    opened = {(a["name"], a["version"]): a["opened_by"] for a in versions(server, task_id)}
    assert opened[("audit.docx", 2)] == [v2["created_by"]], "a download is an opening"
    assert opened[("audit.docx", 1)] == [v2["created_by"]]

    shown = server.mcos("artifacts", "show", str(task_id), "audit.docx").stdout
    header, _, text = shown.partition("(untrusted: written by the file's author) ---\n")
    assert header.startswith(f"audit.docx v2 (#{v2['id']}, {DOCX}")
    assert text.splitlines()[:2] == ["Audit of March, revised", "Twelve findings."]
    assert "Finding | F-01" in text, "a .docx table's rows"
    sheets = server.mcos("artifacts", "show", str(task_id), "variance.xlsx").stdout
    assert "## Variance\nLine      Budget  Actual\nSplicing  75000   80250.5\n" in sheets
    assert "## Findings\nF-01  Invoice 118 paid twice\n" in sheets
    as_json = json.loads(
        server.mcos("artifacts", "show", str(task_id), str(v1["id"]), "--json").stdout
    )
    assert as_json["preview"]["paragraphs"][:2] == ["Audit of March", "Eleven findings."]


def test_an_artifact_cannot_write_to_the_operators_terminal(server: Server, tmp_path: Path) -> None:
    task_id = new_task(server)
    sly = tmp_path / "sly.md"
    sly.write_bytes(b"# Report\n\x1b]0;owned\x07\x1b[2Jall clear\tok\n")
    server.mcos("artifacts", "add", str(task_id), str(sly), "--note", "see \x1b[31mhere")
    shown = server.mcos("artifacts", "show", str(task_id), "sly.md").stdout
    assert "\x1b" not in shown and "\x07" not in shown
    assert "# Report\n]0;owned[2Jall clear\tok" in shown, "the text stays, the controls go"
    assert "note: see [31mhere" in shown
    [artifact] = versions(server, task_id)
    assert artifact["content_type"] == "text/markdown"


def test_bad_arguments_are_named_and_exit_non_zero(server: Server, tmp_path: Path) -> None:
    task_id = new_task(server)
    report = tmp_path / "report.md"
    report.write_text("# Report\n")

    def error(*args: str) -> str:
        ran = server.mcos(*args, check=False)
        assert ran.returncode != 0, ran.stdout
        return ran.stderr.strip()

    assert error("artifacts", "add", "999", str(report)) == ("error: no task #999 (field: task_id)")
    assert "Invalid value for 'FILE'" in error("artifacts", "add", str(task_id), "missing.md")
    assert "Invalid value for 'TASK'" in error("artifacts", "ls", "abc")
    assert "Invalid value for 'TASK'" in error("artifacts", "ls", "0")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert error("artifacts", "add", str(task_id), str(empty)) == (
        f"error: {empty} is empty; attach a file with content (field: FILE)"
    )
    assert error("artifacts", "add", str(task_id), str(report), "--type", "nonsense").endswith(
        "(field: content_type)"
    )
    assert error("artifacts", "add", str(task_id), str(report), "--name", "a/b.md").endswith(
        "contains a path separator; give a file name, not a path (field: name)"
    )
    server.mcos("artifacts", "add", str(task_id), str(report))
    assert error("artifacts", "get", str(task_id), "other.md") == (
        f"error: task #{task_id} has no artifact with id or name 'other.md'; its files: "
        "report.md (#1) (field: ARTIFACT)"
    )
    assert "has no artifact with id or name '77'" in error("artifacts", "show", str(task_id), "77")
    assert "no task #999" in error("artifacts", "get", "999", "report.md")
    assert error("artifacts", "get", str(task_id), "report.md", "-o",
                 str(tmp_path / "no" / "such" / "dir.md")).startswith(
        f"error: cannot write {tmp_path / 'no' / 'such' / 'dir.md'}"
    )  # fmt: skip
    missing = f"{tmp_path / 'nowhere'}/"
    assert error("artifacts", "get", str(task_id), "report.md", "-o", missing) == (
        f"error: there is no folder {missing} (field: --output)"
    )
    assert not (tmp_path / "nowhere").exists()
    assert versions(server, task_id)[0]["version"] == 1, "nothing else was attached"
