"""Files on a task in the dashboard: counted on the card, listed, previewed as text, downloaded,
and the acceptance saying which versions the operator had opened."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import httpx
from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Markup in an agent's file is shown as text: were it interpreted, the image would run script.
HOSTILE = b"# Fibre contract\n\n- term: <img src=x onerror=\"document.title='owned'\">\n"


def _upload(client: httpx.Client, task_id: int, name: str, content: bytes, kind: str) -> int:
    response = client.post(
        f"/api/v1/tasks/{task_id}/artifacts",
        params={"name": name},
        content=content,
        headers={"Content-Type": kind},
    )
    assert response.status_code == 201, response.text
    artifact_id: int = response.json()["id"]
    return artifact_id


def _docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Clause 1. Velocity Fibre appoints the Contractor.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_the_panel_lists_previews_and_downloads_files_and_shows_what_was_accepted(
    page: Page, dashboard_server: Server, tmp_path: Path
) -> None:
    with dashboard_server.client() as operator, dashboard_server.agent("apex") as apex:
        task = operator.post(
            "/api/v1/tasks", json={"title": "Draft the fibre contract", "assignee": "apex"}
        ).json()["id"]
        notes = _upload(apex, task, "notes.md", HOSTILE, "text/markdown")

        sign_in(page, dashboard_server.operator_token)
        page.goto("/#/board")
        wait_until_ready(page)
        card = page.locator(f'[data-task="{task}"]')
        expect(card.locator("[data-attachments]")).to_have_attribute("data-attachments", "1")

        card.click()
        panel = page.locator('[data-panel="task"]')
        files = panel.locator(".artifact-list li")
        expect(files).to_have_count(1)
        expect(files.first).to_contain_text("notes.md v1")
        expect(files.first).to_contain_text("apex")

        # Markdown preview: rendered by markdown.js, the markup in it kept as text.
        files.first.locator("[data-preview]").click()
        preview = panel.locator(".artifact-preview")
        expect(preview.locator("h2")).to_have_text("Fibre contract")
        expect(preview).to_contain_text('<img src=x onerror="document.title=')
        expect(preview.locator("img")).to_have_count(0)
        assert page.title() != "owned"

        # A new file arrives live: the card counts it, the panel lists it, its text previews.
        contract = _docx()
        _upload(apex, task, "contract.docx", contract, DOCX)
        expect(card.locator("[data-attachments]")).to_have_attribute("data-attachments", "2")
        expect(files).to_have_count(2)
        docx_row = panel.locator('.artifact-list li:has-text("contract.docx")')
        docx_row.locator("[data-preview]").click()
        expect(preview).to_contain_text("Clause 1. Velocity Fibre appoints the Contractor.")

        # The download link hands over the stored bytes, as a file.
        with page.expect_download() as downloading:
            panel.locator(f'[data-download="{notes}"]').click()
        saved = tmp_path / "notes.md"
        downloading.value.save_as(saved)
        assert downloading.value.suggested_filename == "notes.md"
        assert saved.read_bytes() == HOSTILE

        # Apex sends it for review; the operator accepts it, having opened both versions.
        for status in ("in_progress", "review"):
            assert apex.post(f"/api/v1/tasks/{task}/move", json={"status": status}).is_success
        _upload(apex, task, "contract.docx", contract + b"\n", DOCX)  # v2, never opened
        assert operator.post(f"/api/v1/tasks/{task}/move", json={"status": "done"}).is_success

        accepted = panel.locator(".acceptances li")
        expect(accepted).to_have_count(2)
        expect(accepted.nth(0)).to_have_text(
            "accepted v2 of contract.docx — op:operator, not opened"
        )
        expect(accepted.nth(1)).to_have_text("accepted v1 of notes.md — op:operator, opened")
