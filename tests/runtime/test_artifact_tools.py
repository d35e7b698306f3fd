"""attach_file and read_artifact, used by a real agent loop against a real control plane."""

from __future__ import annotations

import asyncio
import io

import docx
import httpx

from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.runtime import events, make_runner, run_until, task_status
from tests.fixtures.server import Server


def _contract() -> bytes:
    document = docx.Document()
    document.add_paragraph("Clause 1. The parties are Velocity Fibre and Specter Holdings.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_apex_attaches_its_draft_and_reads_it_back_fenced(
    srv: Server, fake: FakeProviderServer
) -> None:
    workspace = srv.fleet_dir / "workspaces" / "apex"
    (workspace / "drafts").mkdir(parents=True, exist_ok=True)
    draft = _contract()
    (workspace / "drafts" / "contract.docx").write_bytes(draft)
    with srv.client() as operator:
        task = operator.post(
            "/api/v1/tasks", json={"title": "Draft the contract", "assignee": "apex"}
        ).json()["id"]
        other = operator.post("/api/v1/tasks", json={"title": "Not Apex's", "assignee": "flow"})
        theirs = other.json()["id"]
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-apex",
                    contains="Draft the contract",
                    steps=(
                        Step.call("attach_file", {"path": "drafts/contract.docx", "note": "v1"}),
                        Step.call("attach_file", {"path": "../escape.md"}),
                        Step.call(
                            "attach_file", {"path": "drafts/contract.docx", "task_id": theirs}
                        ),
                        Step.call("read_artifact", {"name": "contract.docx"}),
                        Step.reply("Attached the draft for review."),
                    ),
                )
            ]
        )
    )

    async def in_review(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task) == "review"

    asyncio.run(
        run_until(make_runner(srv, ["apex"]), in_review, url=srv.url, token=srv.operator_token)
    )

    with srv.client() as operator:
        [artifact] = operator.get(f"/api/v1/tasks/{task}/artifacts").json()["artifacts"]
        content = operator.get(f"/api/v1/tasks/{task}/artifacts/{artifact['id']}/content").content
        assert operator.get(f"/api/v1/tasks/{theirs}/artifacts").json()["artifacts"] == []
    assert content == draft
    assert (artifact["name"], artifact["version"], artifact["note"]) == ("contract.docx", 1, "v1")
    assert artifact["created_by"] == "agent:apex"
    assert artifact["content_type"].endswith("wordprocessingml.document")

    calls = [r for r in fake.requests if r.key == "key-apex"]
    assert all({"attach_file", "read_artifact"} <= set(r.tools) for r in calls)
    attached, escaped, refused, read = max((r.tool_results for r in calls), key=len)
    assert attached.startswith(f"attached contract.docx v1 to task #{task} (")
    assert "outside your workspace" in escaped
    assert "the control plane refused" in refused and "not party to task" in refused
    assert "(Untrusted data: the file contract.docx v1 by agent:apex." in read
    assert "Clause 1. The parties are Velocity Fibre and Specter Holdings." in read

    async def opened() -> list[dict[str, object]]:
        headers = {"Authorization": f"Bearer {srv.operator_token}"}
        async with httpx.AsyncClient(base_url=srv.url, headers=headers) as api:
            return await events(api, "artifact.opened")

    # Apex's read and the operator's download: each opened it once.
    assert sorted(e["actor"] for e in asyncio.run(opened())) == ["agent:apex", "operator:operator"]
