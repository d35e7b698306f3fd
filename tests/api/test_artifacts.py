"""Files on tasks: versions, content-addressed storage, limits, who may, downloads, previews."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import httpx
import openpyxl
import pytest
from sqlalchemy import create_engine, func, select, text

from mcos.storage import tables
from tests.fixtures.app import in_process_server
from tests.fixtures.server import ControlPlane, Server, error_of, running_server

LIMIT = 64 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    with running_server(
        tmp_path, database_url, settings={"MCOS_ARTIFACT_MAX_BYTES": str(LIMIT)}
    ) as srv:
        yield srv


@pytest.fixture
def api(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ControlPlane]:
    settings = {"MCOS_ARTIFACT_MAX_BYTES": str(LIMIT)}
    with in_process_server(tmp_path, database_url, monkeypatch, settings) as app:
        yield app


def upload(
    client: httpx.Client,
    task_id: int,
    name: str,
    content: bytes,
    content_type: str = "text/markdown",
    **params: str,
) -> httpx.Response:
    return client.post(
        f"/api/v1/tasks/{task_id}/artifacts",
        params={"name": name, **params},
        content=content,
        headers={"Content-Type": content_type},
    )


def uploaded(client: httpx.Client, task_id: int, name: str, content: bytes, **kw: Any) -> Any:
    response = upload(client, task_id, name, content, **kw)
    assert response.status_code == 201, response.text
    return response.json()


def listed(client: httpx.Client, task_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/tasks/{task_id}/artifacts")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def blob_count(server: Server, tmp_path: Path) -> int:
    """Distinct contents stored: files beside the SQLite file, or large objects in PostgreSQL."""
    if server.database_url.startswith("sqlite"):
        return sum(1 for p in (tmp_path / "artifacts").glob("??/*") if not p.name.startswith("."))
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(tables.artifact_blobs)).scalar()
            objects = conn.execute(text("SELECT count(*) FROM pg_largeobject_metadata")).scalar()
            assert rows == objects, "one large object per distinct content"
            return int(rows or 0)
    finally:
        engine.dispose()


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Independent Contractor Agreement", 1)
    document.add_paragraph("1. The Contractor shall deliver the services.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Party", "Registration"
    table.cell(1, 0).text, table.cell(1, 1).text = "Velocity Fibre", "2019/123456/07"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Variance"
    sheet.append(["Line", "Budget", "Actual"])
    for n in range(1, 30):
        sheet.append([f"line {n}", n * 100, n * 90])
    findings = book.create_sheet("Findings")
    findings.append(["#", "Finding"])
    findings.append([1, "Duplicate invoice"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_versions_dedupe_limits_and_restart(server: Server, tmp_path: Path) -> None:
    with server.client() as operator, server.agent("flow") as flow:
        task = operator.post("/api/v1/tasks", json={"title": "Draft", "assignee": "flow"}).json()
        tid = task["id"]
        v1 = uploaded(flow, tid, "contract.md", b"# Draft one\n", note="first cut")
        v2 = uploaded(flow, tid, "contract.md", b"# Draft two\n")
        same = uploaded(operator, tid, "copy.md", b"# Draft one\n")
        assert (v1["version"], v2["version"], same["version"]) == (1, 2, 1)
        assert v1["created_by"] == "agent:flow" and v1["note"] == "first cut"
        assert v1["sha256"] == same["sha256"] and v1["size"] == len(b"# Draft one\n")
        assert blob_count(server, tmp_path) == 2, "the same content twice is stored once"
        names = [(a["name"], a["version"]) for a in listed(operator, tid)["artifacts"]]
        assert names == [("copy.md", 1), ("contract.md", 2), ("contract.md", 1)]

        # Past the limit: 413 naming the field, whether the size is declared or streamed.
        big = b"x" * (LIMIT + 1)
        declared = upload(flow, tid, "big.bin", big, "application/octet-stream")
        assert declared.status_code == 413 and error_of(declared)["field"] == "content"
        streamed = flow.post(
            f"/api/v1/tasks/{tid}/artifacts",
            params={"name": "big.bin"},
            content=iter([big[:LIMIT], big[LIMIT:]]),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert streamed.status_code == 413 and error_of(streamed)["field"] == "content"
        assert len(listed(operator, tid)["artifacts"]) == 3, "nothing was stored"
        assert blob_count(server, tmp_path) == 2
        # Larger than the JSON body cap is fine for a file within its own limit.
        assert upload(flow, tid, "notes.txt", b"y" * LIMIT, "text/plain").status_code == 201

    server.kill()  # no shutdown hooks: what was acknowledged must still download
    server.start()
    with server.client() as operator:
        got = operator.get(f"/api/v1/tasks/{tid}/artifacts/{v2['id']}/content")
        assert got.status_code == 200 and got.content == b"# Draft two\n"


def test_who_may_and_bad_requests(api: ControlPlane) -> None:
    with api.client() as operator, api.agent("flow") as flow:
        tid = operator.post("/api/v1/tasks", json={"title": "x", "assignee": "flow"}).json()["id"]
        art = uploaded(flow, tid, "a.md", b"hello")
        with api.agent("donna") as donna:  # not the assignee, creator, supervisor or jarvis
            refused = upload(donna, tid, "b.md", b"nope")
            assert refused.status_code == 403 and error_of(refused)["field"] == "task_id"
            for path in ("", f"/{art['id']}/content", f"/{art['id']}/preview"):
                got = donna.get(f"/api/v1/tasks/{tid}/artifacts{path}")
                assert got.status_code == 403, (path, got.text)
        with api.agent("elon") as elon:  # Flow's supervisor reviews its work
            assert elon.get(f"/api/v1/tasks/{tid}/artifacts/{art['id']}/content").content == (
                b"hello"
            )
        cases = [
            (upload(flow, tid, "../etc/passwd", b"x"), 422, "name"),
            (upload(flow, tid, "a\\b.md", b"x"), 422, "name"),
            (upload(flow, tid, "x" * 201, b"x"), 422, "name"),
            (upload(flow, tid, "ok.md", b"x", "not a type"), 422, "content_type"),
            (upload(flow, tid, "ok.md", b"x", "model/gltf+json"), 422, "content_type"),
            (upload(flow, tid, "ok.md", b""), 422, "content"),
            (upload(flow, 999_999, "ok.md", b"x"), 404, "task_id"),
            (flow.get(f"/api/v1/tasks/{tid}/artifacts/999999/content"), 404, "artifact_id"),
        ]
        for response, status, field in cases:
            assert (response.status_code, error_of(response)["field"]) == (status, field), (
                response.text
            )
        assert [a["name"] for a in listed(operator, tid)["artifacts"]] == ["a.md"]


@pytest.mark.parametrize(
    ("name", "declared"),
    [("page.html", "text/html"), ("logo.svg", "image/svg+xml"), ("x.js", "text/javascript")],
)
def test_an_agents_file_is_never_served_to_run_in_the_dashboards_origin(
    api: ControlPlane, name: str, declared: str
) -> None:
    payload = b"<html><script>fetch('/api/v1/tokens')</script></html>"
    with api.client() as operator, api.agent("flow") as flow:
        tid = operator.post("/api/v1/tasks", json={"title": "x", "assignee": "flow"}).json()["id"]
        art = uploaded(flow, tid, name, payload, content_type=declared)
        assert art["content_type"] == declared, "what was declared is stored"
        got = operator.get(f"/api/v1/tasks/{tid}/artifacts/{art['id']}/content")
    assert got.content == payload
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"


def test_previews_opening_and_acceptance(api: ControlPlane) -> None:
    with api.client() as operator, api.agent("flow") as flow:
        tid = operator.post("/api/v1/tasks", json={"title": "x", "assignee": "flow"}).json()["id"]

        def preview(content: bytes, name: str, kind: str) -> httpx.Response:
            art = uploaded(flow, tid, name, content, content_type=kind)
            return operator.get(f"/api/v1/tasks/{tid}/artifacts/{art['id']}/preview")

        document = preview(_docx_bytes(), "contract.docx", DOCX).json()["preview"]
        assert document["kind"] == "docx"
        assert "1. The Contractor shall deliver the services." in document["paragraphs"]
        assert document["tables"] == [
            [["Party", "Registration"], ["Velocity Fibre", "2019/123456/07"]]
        ]
        book = preview(_xlsx_bytes(), "variance.xlsx", XLSX).json()["preview"]
        variance, findings = book["sheets"]
        assert variance["name"] == "Variance" and len(variance["rows"]) == 20
        assert variance["rows"][1] == ["line 1", 100, 90] and variance["clipped"]
        assert findings["rows"] == [["#", "Finding"], [1, "Duplicate invoice"]]
        text = preview(b"# Title\n\nbody", "readme.md", "text/markdown").json()["preview"]
        assert text == {"kind": "markdown", "text": "# Title\n\nbody", "clipped": False}
        blob = preview(b"\x00\x01", "data.bin", "application/octet-stream").json()["preview"]
        assert blob == {"kind": "none"}
        broken = preview(b"not a zip at all", "broken.docx", DOCX)
        assert broken.status_code == 422 and error_of(broken)["code"] == "preview_failed"
        assert "broken.docx is not a readable .docx file" in error_of(broken)["message"]

        # A second version nobody opened; then the operator accepts the work.
        uploaded(flow, tid, "contract.docx", _docx_bytes() + b"", note="v2")
        for status in ("in_progress", "review"):
            assert flow.post(f"/api/v1/tasks/{tid}/move", json={"status": status}).is_success
        assert operator.post(f"/api/v1/tasks/{tid}/move", json={"status": "done"}).is_success
        accepted = {
            (a["name"], a["version"]): (a["accepted_by"], a["opened"])
            for a in listed(operator, tid)["acceptances"]
        }
    assert accepted[("contract.docx", 2)] == ("operator:operator", False)
    assert accepted[("variance.xlsx", 1)] == ("operator:operator", True)
    assert ("contract.docx", 1) not in accepted, "only the newest version is accepted"
