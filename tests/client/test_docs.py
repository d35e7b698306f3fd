"""The examples in docs/client.md run, as written, against a real control plane."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.fixtures.server import Server

DOC = Path(__file__).parents[2] / "docs" / "client.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def run_example(
    code: str, plane: Server, token: str, folder: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a script in ``folder`` (where it writes its files)."""
    env = plane.env | {"MCOS_URL": plane.url, "MCOS_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_scripts_example_hands_its_work_over(
    plane: Server, tokens: dict[str, str], tmp_path: Path
) -> None:
    script = examples()[0]
    with plane.client(tokens["jarvis"]) as jarvis:
        created = jarvis.post("/api/v1/tasks", json={"title": "Doc example", "assignee": "atlas"})
        assert created.status_code == 201, created.text
        task = created.json()
    done = run_example(script, plane, plane.agent_token("atlas"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 task(s) handed over"
    assert (tmp_path / f"report-{task['id']}.md").read_text().startswith("# Doc example")
    with plane.client() as operator:
        card = operator.get(f"/api/v1/tasks/{task['id']}").json()
    assert card["status"] == "review"
    assert [e["type"] for e in card["history"]][-2:] == ["task.commented", "task.moved"]


def test_the_async_example_asks_and_follows_the_stream(plane: Server, tmp_path: Path) -> None:
    code = examples()[1]
    done = run_example(code, plane, plane.agent_token("atlas"), tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "acting as agent:atlas"
    assert lines[1].startswith("deploy: deny - agent 'atlas' lacks the 'exec' capability")
    assert lines[2] == "refused: invalid to"
    assert re.fullmatch(r"seen: \d+ policy\.decided (allow|deny)", lines[3]), lines[3]
