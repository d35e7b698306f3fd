"""`mcos init` writes the role templates to the fleet folder; `mcos souls` copies one per agent."""

from __future__ import annotations

import json
from pathlib import Path

from mcos.fleet.soul_templates import SEED_ROLES, packaged_template
from tests.fixtures.server import mcos_env, run_mcos


def test_init_writes_the_role_templates_and_an_agent_gets_its_own_copy(tmp_path: Path) -> None:
    env = mcos_env(tmp_path)
    folder = tmp_path / "hq"
    result = run_mcos("init", str(folder), env=env)
    souls = folder / "souls"
    assert f"Wrote {souls}/" in result.stdout
    assert sorted(p.name for p in souls.iterdir()) == sorted(
        [f"{role}.md" for role in SEED_ROLES] + ["README.md"]
    )
    assert (souls / "legal.md").read_text() == packaged_template("legal")
    assert "souls/AGENT.md" in (souls / "README.md").read_text()

    # The operator edits the fleet's legal template: every legal agent starts from it...
    (souls / "legal.md").write_text("# {{name}} drafts for {{company}}\n")
    listed = json.loads(run_mcos("souls", "ls", "--json", env=env, cwd=folder).stdout)["souls"]
    where = {row["agent"]: row["template"] for row in listed}
    assert where["apex"] == str(souls / "legal.md")
    assert where["vega"] == str(souls / "finance.md")
    assert where["quill"] == "generic"  # the scribe: no template ships for its role

    # ... and gives Apex a copy of its own to edit.
    copied = run_mcos("souls", "copy", "legal", "apex", env=env, cwd=folder)
    assert f"Wrote {souls / 'apex.md'}" in copied.stdout
    assert "'# Apex drafts for Specter Holdings'" in copied.stdout
    assert (souls / "apex.md").read_text() == "# {{name}} drafts for {{company}}\n"
    listed = json.loads(run_mcos("souls", "ls", "--json", env=env, cwd=folder).stdout)["souls"]
    assert {row["agent"]: row["template"] for row in listed}["apex"] == str(souls / "apex.md")

    # A copy is never overwritten, and the agent and role must exist.
    again = run_mcos("souls", "copy", "legal", "apex", env=env, cwd=folder, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    nobody = run_mcos("souls", "copy", "legal", "apexx", env=env, cwd=folder, check=False)
    assert nobody.returncode == 1 and "no agent named 'apexx'" in nobody.stderr
    no_role = run_mcos("souls", "copy", "juggler", "vega", env=env, cwd=folder, check=False)
    assert no_role.returncode == 1 and "no template for role 'juggler'" in no_role.stderr
    assert not (souls / "vega.md").exists()
