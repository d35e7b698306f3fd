"""POST /api/v1/tasks/{id}/drafts end to end: rendered, checked, attached, to review, v2."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest

from tests.fixtures.app import in_process_server
from tests.fixtures.server import ControlPlane
from tests.legal.conftest import write_registry

DRAFT: dict[str, Any] = {
    "template": "independent-contractor-agreement",
    "parties": {"client": "velocity-fibre", "contractor": "mokoena-splicing"},
    "fields": {
        "effective_date": "2026-03-01",
        "services": ["Splice and test fibre in Irene"],
        "monthly_fee": 75000,
    },
}
NAME = "independent-contractor-agreement-velocity-fibre-mokoena-splicing.docx"


@pytest.fixture
def api(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ControlPlane]:
    """The same fleet and registry, with the application in the test process."""
    with in_process_server(tmp_path, database_url, monkeypatch, prepare=write_registry) as app:
        yield app


def contract_task(operator: httpx.Client) -> int:
    created = operator.post(
        "/api/v1/tasks",
        json={"title": "Contractor agreement: Mokoena", "kind": "legal-document",
              "assignee": "apex"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    task_id: int = created.json()["id"]
    return task_id


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def test_apex_drafts_the_operator_comments_and_the_second_version_is_attached(
    api: ControlPlane,
) -> None:
    with api.client() as operator, api.agent("apex") as apex:
        task_id = contract_task(operator)
        assert apex.post(f"/api/v1/tasks/{task_id}/move", json={"status": "in_progress"}).is_success
        first = apex.post(f"/api/v1/tasks/{task_id}/drafts", json=DRAFT)
        assert first.status_code == 201, first.text
        body = first.json()
        assert body["status"] == "review"
        assert body["artifact"]["name"] == NAME and body["artifact"]["version"] == 1
        assert body["parties"]["client"] == {
            "key": "velocity-fibre",
            "name": "Velocity Fibre (Pty) Ltd",
            "registration_number": "2019/407215/07",
        }
        task = operator.get(f"/api/v1/tasks/{task_id}").json()
        assert task["status"] == "review"
        comments = [e["data"]["body"] for e in task["history"] if e["type"] == "task.commented"]
        assert comments == [
            f"Independent Contractor Agreement v1 attached as {NAME}, between Velocity Fibre "
            "(Pty) Ltd (the Client) and Mokoena Splicing CC (the Contractor); checked against "
            "the entity registry."
        ]
        # The operator reviews and sends it back with a comment; Apex drafts again.
        operator.post(f"/api/v1/tasks/{task_id}/comments", json={"body": "Make it R80 000."})
        assert operator.post(
            f"/api/v1/tasks/{task_id}/move", json={"status": "in_progress"}
        ).is_success
        again = DRAFT | {
            "fields": DRAFT["fields"] | {"monthly_fee": 80000},
            "note": "Fee raised to R80 000 as asked.",
        }
        second = apex.post(f"/api/v1/tasks/{task_id}/drafts", json=again)
        assert second.status_code == 201, second.text
        assert second.json()["artifact"]["version"] == 2
        listed = operator.get(f"/api/v1/tasks/{task_id}/artifacts").json()
        versions = {(a["name"], a["version"]) for a in _artifacts(listed)}
        assert versions == {(NAME, 1), (NAME, 2)}
        newest = max(_artifacts(listed), key=lambda a: a["version"])
        content = operator.get(f"/api/v1/tasks/{task_id}/artifacts/{newest['id']}/content").content
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)
        assert "R80 000.00 (eighty thousand rand)" in text
        assert operator.get(f"/api/v1/tasks/{task_id}").json()["status"] == "review"
        drafted = operator.get("/api/v1/events", params={"types": "legal.drafted"}).json()
        assert [e["data"]["version"] for e in drafted["events"]] == [1, 2]


def _artifacts(listed: dict[str, Any]) -> list[dict[str, Any]]:
    """Every version listed, however the listing groups them."""
    items: list[dict[str, Any]] = listed["artifacts"]
    out = []
    for item in items:
        out += item.get("versions", [item])
    return out


def test_a_draft_with_a_wrong_registration_number_is_refused_and_recorded(
    api: ControlPlane,
) -> None:
    with api.client() as operator, api.agent("apex") as apex:
        task_id = contract_task(operator)
        wrong = DRAFT | {
            "fields": DRAFT["fields"]
            | {"place_of_work": "Mokoena Splicing CC's yard (reg. 2009/045678/07)"}
        }
        response = apex.post(f"/api/v1/tasks/{task_id}/drafts", json=wrong)
        assert response.status_code == 422
        refusal = error(response)
        assert refusal["code"] == "draft_refused" and refusal["field"] == "fields"
        assert (
            "registration number 2009/045678/07 is given for Mokoena Splicing CC, but the "
            "registry's is 2009/045678/23" in refusal["message"]
        )
        [event] = operator.get("/api/v1/events", params={"types": "legal.draft_refused"}).json()[
            "events"
        ]
        assert event["actor"] == "agent:apex" and event["subject"] == f"task:{task_id}"
        assert event["data"]["reasons"] == [
            "registration number 2009/045678/07 is given for Mokoena Splicing CC, but the "
            "registry's is 2009/045678/23"
        ]
        # Nothing attached, and the task did not move.
        assert _artifacts(operator.get(f"/api/v1/tasks/{task_id}/artifacts").json()) == []
        assert operator.get(f"/api/v1/tasks/{task_id}").json()["status"] == "assigned"
        # An unregistered party by key is the caller's mistake, named by field.
        stranger = DRAFT | {"parties": {"client": "velocity-fibre", "contractor": "acme"}}
        bad = apex.post(f"/api/v1/tasks/{task_id}/drafts", json=stranger)
        assert bad.status_code == 422 and error(bad)["field"] == "parties.contractor"


def test_only_an_agent_party_to_the_task_with_legal_draft_may_draft(api: ControlPlane) -> None:
    with api.client() as operator, api.agent("vega") as vega:
        task_id = contract_task(operator)
        # Vega is not party to Apex's task.
        refused = vega.post(f"/api/v1/tasks/{task_id}/drafts", json=DRAFT)
        assert refused.status_code == 403 and error(refused)["field"] == "task_id"
        own = operator.post(
            "/api/v1/tasks", json={"title": "Vega's own contract", "assignee": "vega"}
        ).json()["id"]
        lacking = vega.post(f"/api/v1/tasks/{own}/drafts", json=DRAFT)
        assert lacking.status_code == 403
        assert "lacks the 'legal.draft' capability" in error(lacking)["message"]
        assert operator.post("/api/v1/tasks/999999/drafts", json=DRAFT).status_code == 404
        for bad_body, field in [
            (DRAFT | {"template": "lease"}, "template"),
            (DRAFT | {"extra": 1}, "extra"),
            (DRAFT | {"parties": {"Client": "velocity-fibre"}}, "parties.Client"),
        ]:
            answer = operator.post(f"/api/v1/tasks/{task_id}/drafts", json=bad_body)
            assert answer.status_code == 422, answer.text
            assert (error(answer)["field"] or "").startswith(field.split(".")[0]), answer.text


def test_templates_are_listed_and_an_upload_is_checked(api: ControlPlane) -> None:
    with api.client() as operator, api.agent("apex") as apex:
        listed = apex.get("/api/v1/legal/templates").json()["templates"]
        keys = {t["key"] for t in listed}
        assert {"independent-contractor-agreement", "directors-suretyship", "notice"} <= keys
        contract = next(t for t in listed if t["key"] == "independent-contractor-agreement")
        assert [p["role"] for p in contract["parties"]] == ["client", "contractor"]
        fee = next(f for f in contract["fields"] if f["name"] == "monthly_fee")
        assert (fee["type"], fee["required"]) == ("zar", True)
        document = docx.Document()
        document.add_paragraph("Between Velocity Fibre (Pty) Ltd and Mokoena Splicing CC.")
        document.add_paragraph("For and on behalf of: Velocity Fibre (Pty) Ltd")
        document.add_paragraph("Name: Alexander James Specter")
        document.add_paragraph("Capacity: Director")
        out = io.BytesIO()
        document.save(out)
        checked = operator.post(
            "/api/v1/legal/check",
            json={
                "template": DRAFT["template"],
                "parties": DRAFT["parties"],
                "content_base64": base64.b64encode(out.getvalue()).decode(),
            },
        )
        assert checked.status_code == 200, checked.text
        found = checked.json()
        assert found["agrees"] is False
        assert [(d["rule"], d["found"]) for d in found["disagreements"]] == [
            ("signature", "Mokoena Splicing CC")
        ]
        not_base64 = operator.post(
            "/api/v1/legal/check",
            json={"template": DRAFT["template"], "parties": DRAFT["parties"],
                  "content_base64": "!!!!"},
        )  # fmt: skip
        assert not_base64.status_code == 422
        assert error(not_base64)["field"] == "content_base64"
        with api.agent("vega") as vega:
            assert vega.post("/api/v1/legal/check", json={
                "template": DRAFT["template"], "parties": DRAFT["parties"],
                "content_base64": base64.b64encode(out.getvalue()).decode(),
            }).status_code == 403  # fmt: skip
