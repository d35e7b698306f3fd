"""``mcos legal``, run as an operator runs it, against a real server on the fleet ``mcos init``
writes (its sample registry: Velocity Fibre, Specter Holdings, Mokoena Splicing CC)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest

from mcos.cli.legal import refusal_reasons
from mcos.legal.check import Disagreement
from mcos.legal.render import DraftRefused
from tests.fixtures.server import Server, running_server

TEMPLATE = "independent-contractor-agreement"
NAME = "independent-contractor-agreement-velocity-fibre-mokoena-splicing.docx"
PARTIES = ("--party", "client=velocity-fibre", "--party", "contractor=mokoena-splicing")
FIELDS = (
    "--field", "effective_date=2026-03-01",
    "--field", "services=Splice fibre in Irene",
    "--field", "services=Test every link after splicing",
    "--field", "monthly_fee=75000",
    "--field", "payment_days=30",
)  # fmt: skip

WRONG = (
    "Mokoena Splicing CC's yard (reg. 2009/045678/07), for Velocity Fibre (Pty) Ltd "
    "(reg. 2019/407215/06)"
)
"""Two registration numbers a digit off the registry's."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}") as srv:
        yield srv


def contract_task(server: Server) -> int:
    with server.client() as operator:
        created = operator.post(
            "/api/v1/tasks",
            json={"title": "Contractor agreement: Mokoena", "kind": "legal-document",
                  "assignee": "apex"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        task_id: int = created.json()["id"]
        return task_id


def test_templates_list_their_parties_and_fields(server: Server) -> None:
    text = server.mcos("legal", "templates").stdout
    block = text.split(f"{TEMPLATE}: ", 1)[1].split("\n\n", 1)[0]
    assert block.startswith("Independent Contractor Agreement (agreement)")
    assert "--party client=KEY  the Client (company, signs)" in block
    assert "--field monthly_fee=…  zar, required" in block
    assert "--field services=…  lines, required; repeat --field for each line" in block
    assert "--field court=…  court, default 'Gauteng" in block
    listed = json.loads(server.mcos("legal", "templates", "--json").stdout)
    assert {"notice", "directors-suretyship", TEMPLATE} <= {t["key"] for t in listed}


def test_a_draft_from_the_registry_is_attached_in_review_and_opens_with_the_parties(
    server: Server, tmp_path: Path
) -> None:
    task_id = contract_task(server)
    drafted = server.mcos(
        "legal", "draft", str(task_id), TEMPLATE, *PARTIES, *FIELDS, "--note", "first draft"
    )
    lines = drafted.stdout.splitlines()
    assert lines[0] == f"attached {NAME} v1 (artifact #1) to task #{task_id}; the task is in review"
    assert lines[1:] == [
        "  client: Velocity Fibre (Pty) Ltd (2019/407215/07) [velocity-fibre]",
        "  contractor: Mokoena Splicing CC (2009/045678/23) [mokoena-splicing]",
    ]
    with server.client() as operator:
        assert operator.get(f"/api/v1/tasks/{task_id}").json()["status"] == "review"

    out = tmp_path / "contract.docx"
    server.mcos("artifacts", "get", str(task_id), NAME, "-o", str(out))
    document = docx.Document(str(out))
    text = "\n".join(p.text for p in document.paragraphs)
    text += "\n" + "\n".join(c.text for t in document.tables for r in t.rows for c in r.cells)
    for fact in (
        "Velocity Fibre (Pty) Ltd",
        "2019/407215/07",
        "Mokoena Splicing CC",
        "2009/045678/23",
        "Alexander James Specter",  # Velocity Fibre's signatories, from the registry
        "Lindiwe Precious Dlamini",
        "Pieter Tshepo Mokoena",  # Mokoena's member
        "Splice fibre in Irene",
        "Test every link after splicing",
        "R75 000.00 (seventy-five thousand rand)",
    ):
        assert fact in text, fact
    assert "Specter Holdings" not in text

    # The file checks clean against the registry as what it is, and not as something else.
    checked = server.mcos("legal", "check", str(out), "--template", TEMPLATE, *PARTIES)
    assert (
        checked.stdout.strip() == f"{out} agrees with the entity registry as a draft of {TEMPLATE}"
    )
    other = server.mcos(
        "legal", "check", str(out), "--template", TEMPLATE,
        "--party", "client=velocity-fibre", "--party", "contractor=specter-holdings",
        check=False,
    )  # fmt: skip
    assert other.returncode == 1
    assert other.stdout.startswith(f"{out} disagrees with the entity registry:\n  - ")
    assert "there is no signature block for Specter Holdings (Pty) Ltd" in other.stdout
    found = json.loads(
        server.mcos(
            "legal", "check", str(out), "--template", TEMPLATE, "--json",
            "--party", "client=velocity-fibre", "--party", "contractor=specter-holdings",
            check=False,
        ).stdout
    )  # fmt: skip
    assert found["agrees"] is False and found["disagreements"]

    # The operator sends it back; a second draft is v2 of the same file.
    with server.client() as operator:
        moved = operator.post(f"/api/v1/tasks/{task_id}/move", json={"status": "in_progress"})
        assert moved.is_success, moved.text
    again = json.loads(
        server.mcos(
            "legal", "draft", str(task_id), TEMPLATE, *PARTIES, *FIELDS[:-4],
            "--field", "monthly_fee=80000", "--note", "fee raised", "--json",
        ).stdout
    )  # fmt: skip
    assert (again["artifact"]["name"], again["artifact"]["version"]) == (NAME, 2)
    assert again["status"] == "review"


def test_a_refused_draft_prints_each_reason_and_exits_non_zero(server: Server) -> None:
    task_id = contract_task(server)
    wrong = server.mcos(
        "legal", "draft", str(task_id), TEMPLATE, *PARTIES, *FIELDS,
        "--field", f"place_of_work={WRONG}",
        check=False,
    )  # fmt: skip
    assert wrong.returncode == 1 and wrong.stdout == ""
    lines = wrong.stderr.splitlines()
    assert lines[0] == (
        "error: the draft was refused (nothing attached): it disagrees with the entity registry:"
    )
    parties = (
        "the parties are the Client: Velocity Fibre (Pty) Ltd (2019/407215/07); "
        "the Contractor: Mokoena Splicing CC (2009/045678/23)"
    )
    assert lines[1:] == [
        f"  - registration number {number} belongs to no party of this document (it is no "
        f"company's in the registry); {parties}"
        for number in ("2009/045678/07", "2019/407215/06")
    ], "one line each, though each reason has a semicolon of its own"
    as_json = server.mcos(
        "legal", "draft", str(task_id), TEMPLATE, *PARTIES, *FIELDS, "--json",
        "--field", f"place_of_work={WRONG}",
        check=False,
    )  # fmt: skip
    assert as_json.returncode == 1
    body = json.loads(as_json.stdout)
    assert body["error"]["code"] == "draft_refused" and len(body["reasons"]) == 2
    listed = json.loads(server.mcos("artifacts", "ls", str(task_id), "--json").stdout)
    assert listed["artifacts"] == [], "nothing attached"
    with server.client() as operator:
        assert operator.get(f"/api/v1/tasks/{task_id}").json()["status"] == "assigned"


def test_refusal_reasons_split_the_servers_message_one_by_one() -> None:
    reasons = [
        "registration number 2009/045678/07 belongs to no party; the parties are A; B",
        "a signature block is for 'X (1) Ltd', who is not a party.",
    ]
    refused = DraftRefused([Disagreement("registration_number", "x", m) for m in reasons])
    assert refusal_reasons(refused.message) == reasons
    assert refusal_reasons("something else") == ["something else"]


def test_bad_arguments_are_named_and_exit_non_zero(server: Server, tmp_path: Path) -> None:
    task_id = contract_task(server)

    def error(*args: str) -> str:
        ran = server.mcos(*args, check=False)
        assert ran.returncode != 0, ran.stdout
        return ran.stderr.strip()

    draft = ("legal", "draft", str(task_id), TEMPLATE)
    assert error(*draft, "--party", "client", *FIELDS) == (
        "error: --party 'client' is not ROLE=KEY (e.g. --party client=velocity-fibre) "
        "(field: --party)"
    )
    assert error(*draft, *FIELDS) == (
        "error: give the parties: --party ROLE=REGISTRY_KEY for each role (field: --party)"
    )
    assert error(*draft, *PARTIES, "--party", "client=specter-holdings") == (
        "error: --party client is given twice (field: --party)"
    )
    assert error(*draft, *PARTIES, "--field", "monthly_fee") == (
        "error: --field 'monthly_fee' is not NAME=VALUE (e.g. --field effective_date=2026-03-01) "
        "(field: --field)"
    )
    assert error(*draft, *PARTIES, *FIELDS, "--field", "colour=red").startswith(
        f"error: template '{TEMPLATE}' has no field 'colour'; its fields are effective_date, "
    )
    assert error(*draft, *PARTIES, *FIELDS[:-2], "--field", "payment_days=soon") == (
        "error: --field payment_days must be a whole number (got 'soon') (field: --field)"
    )
    assert error(*draft, *PARTIES, *FIELDS, "--field", "monthly_fee=1") == (
        "error: --field monthly_fee is given twice (only lines fields repeat) (field: --field)"
    )
    assert error("legal", "draft", str(task_id), "lease", *PARTIES).startswith(
        "error: no legal template 'lease'; the templates are: "
    )
    assert error("legal", "draft", "999", TEMPLATE, *PARTIES, *FIELDS) == (
        "error: no task #999 (field: task_id)"
    )
    unknown = error(*draft, "--party", "client=velocity-fibre", "--party", "contractor=acme",
                    *FIELDS)  # fmt: skip
    assert unknown.endswith("(field: parties.contractor)") and "acme" in unknown
    assert "Invalid value for 'FILE'" in error(
        "legal", "check", str(tmp_path / "missing.docx"), "--template", TEMPLATE, *PARTIES
    )
    not_docx = tmp_path / "contract.docx"
    not_docx.write_text("not a word file")
    assert "Missing option '--template'" in error("legal", "check", str(not_docx), *PARTIES)
    assert "Invalid value for 'FILE'" in error(
        "legal", "check", str(tmp_path), "--template", TEMPLATE, *PARTIES
    ), "a folder is not a file"
    refused = error("legal", "check", str(not_docx), "--template", TEMPLATE, *PARTIES)
    assert refused.startswith("error: ") and "\n" not in refused
