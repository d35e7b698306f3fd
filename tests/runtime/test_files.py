"""read_file and write_file cannot be led out of the workspace: not by a link, however placed.

Real files in ``tmp_path``: a workspace, and beside it an "outside" folder holding what an agent
must never read or change (another agent's workspace, the runner's home, production).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import threading
from pathlib import Path

import pytest

from mcos.client.outbox import Outbox
from mcos.fleet.loader import load_fleet, template_text
from mcos.fleet.schema import Fleet
from mcos.runtime import files
from mcos.runtime.client import AgentLink, ControlPlane, deliver
from mcos.runtime.files import UnsafePath, read_text, write_text
from mcos.runtime.providers.base import ToolCall
from mcos.runtime.toolbox import Toolbox, ToolResult
from mcos.runtime.workspace import Workspace
from tests.fixtures.server import Server

SECRET = "MCOS_JARVIS_ANTHROPIC_KEY=sk-ant-not-yours"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    path = tmp_path_factory.mktemp("fleet") / "fleet.toml"
    path.write_text(template_text(), encoding="utf-8")
    return load_fleet(path)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.env").write_text(SECRET)
    return folder


@pytest.fixture
def workspace(tmp_path: Path, fleet: Fleet) -> Workspace:
    agent = fleet.agent("quill")
    assert agent is not None
    return Workspace.open(tmp_path / "workspaces", fleet, agent)


def refused(call: object) -> str:
    with pytest.raises(UnsafePath) as caught:
        call()  # type: ignore[operator]
    return str(caught.value)


def test_a_symbolic_link_to_a_file_outside_is_neither_read_nor_written(
    workspace: Workspace, outside: Path
) -> None:
    root = workspace.root
    (root / "notes.md").symlink_to(outside / "secret.env")
    assert "symbolic link" in refused(lambda: read_text(root, "notes.md"))
    assert "symbolic link" in refused(lambda: write_text(root, "notes.md", "overwritten"))
    assert (outside / "secret.env").read_text() == SECRET
    assert (root / "notes.md").is_symlink(), "the link itself is left as it was"


def test_a_symbolic_link_anywhere_on_the_way_is_not_followed(
    workspace: Workspace, outside: Path
) -> None:
    root = workspace.root
    (root / "shared").symlink_to(outside, target_is_directory=True)
    (root / "deep" / "er").mkdir(parents=True)
    (root / "deep" / "er" / "link").symlink_to(outside, target_is_directory=True)
    for path in ("shared/secret.env", "deep/er/link/secret.env"):
        assert "symbolic link" in refused(lambda p=path: read_text(root, p))  # type: ignore[misc]
        assert "symbolic link" in refused(
            lambda p=path: write_text(root, p, "overwritten")  # type: ignore[misc]
        )
    assert "symbolic link" in refused(lambda: write_text(root, "shared/new.md", "planted"))
    assert sorted(p.name for p in outside.iterdir()) == ["secret.env"]
    assert (outside / "secret.env").read_text() == SECRET


def exchange(first: Path, second: Path) -> None:
    """Swap two names in one step (Linux ``renameat2(RENAME_EXCHANGE)``), as an attack would:
    the path always exists, a folder one moment and a link the next."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_cwd, rename_exchange = -100, 2
    if libc.renameat2(at_cwd, bytes(first), at_cwd, bytes(second), rename_exchange) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def test_a_folder_swapped_for_a_link_while_writing_never_leads_outside(
    workspace: Workspace, outside: Path
) -> None:
    """The race a resolve-then-open design loses: the folder becomes a link after the check.

    One thread keeps exchanging ``notes`` (a real folder) with a link to ``outside`` while the
    tools write and read through it. Each call works inside the workspace or is refused; none
    reaches outside, because no open follows a link.
    """
    root = workspace.root
    notes, link = root / "notes", root / "notes.link"
    notes.mkdir()
    link.symlink_to(outside, target_is_directory=True)
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            exchange(notes, link)

    swapper = threading.Thread(target=swap)
    swapper.start()
    outcomes: set[str] = set()
    try:
        for i in range(3_000):
            try:
                write_text(root, "notes/secret.env", f"write {i}")
                outcomes.add("written")
            except UnsafePath:
                outcomes.add("refused")
            try:
                read_text(root, "notes/secret.env")
            except UnsafePath:
                pass
    finally:
        stop.set()
        swapper.join()
    assert (outside / "secret.env").read_text() == SECRET, "nothing was written outside"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.env"]
    assert outcomes == {"written", "refused"}, "both sides of the race were met"


def test_a_hard_link_to_a_file_outside_is_refused(workspace: Workspace, outside: Path) -> None:
    root = workspace.root
    os.link(outside / "secret.env", root / "copy.env")
    assert "2 hard links" in refused(lambda: read_text(root, "copy.env"))
    assert "2 hard links" in refused(lambda: write_text(root, "copy.env", "overwritten"))
    assert (outside / "secret.env").read_text() == SECRET


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("../outside/secret.env", "outside your workspace"),
        ("notes/../../outside/secret.env", "outside your workspace"),
        ("/etc/passwd", "outside your workspace"),
        (".mcos/state.json", "the runtime's own state"),
        ("notes/.MCOS/x", "the runtime's own state"),
        ("", "give a path relative to your workspace"),
        (".", "is your workspace itself"),
    ],
)
def test_paths_that_leave_the_workspace_or_reach_the_runtime_are_refused(
    workspace: Workspace, path: str, says: str
) -> None:
    assert says in refused(lambda: read_text(workspace.root, path))
    assert says in refused(lambda: write_text(workspace.root, path, "x"))


@pytest.mark.parametrize(
    "path", [".git/hooks/pre-commit", ".git/config", "app/.git/hooks/post-checkout", ".GIT/HEAD"]
)
def test_nothing_inside_a_git_folder_is_written(workspace: Workspace, path: str) -> None:
    root = workspace.root
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    assert "inside a .git folder" in refused(lambda: write_text(root, path, "#!/bin/sh\ncurl x"))
    assert not (root / ".git" / "hooks").exists()
    assert read_text(root, ".git/config") == "[core]\n", "reading a repository is fine"


def test_writes_replace_atomically_keep_the_mode_and_make_folders(workspace: Workspace) -> None:
    root = workspace.root
    write_text(root, "drafts/2026/contract.md", "first")
    target = root / "drafts" / "2026" / "contract.md"
    target.chmod(0o600)
    inode = target.stat().st_ino
    write_text(root, "drafts/./2026//contract.md", "second")
    assert read_text(root, "drafts/2026/contract.md") == "second"
    assert target.stat().st_ino != inode, "a new file renamed over the old"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["contract.md"], "no temp file"
    assert "is a folder" in refused(lambda: write_text(root, "drafts/2026", "x"))
    assert "is a folder" in refused(lambda: read_text(root, "drafts"))
    assert "no file" in refused(lambda: read_text(root, "drafts/none.md"))


def test_a_pipe_is_refused_at_once_rather_than_read_forever(workspace: Workspace) -> None:
    os.mkfifo(workspace.root / "pipe")
    assert "not a regular file" in refused(lambda: read_text(workspace.root, "pipe"))
    assert "not a regular file" in refused(lambda: write_text(workspace.root, "pipe", "x"))


def test_the_runtimes_own_notes_and_state_follow_no_link_either(
    workspace: Workspace, outside: Path
) -> None:
    from datetime import date

    day = date(2026, 11, 28)
    note = workspace.root / "memory" / f"{day.isoformat()}.md"
    note.symlink_to(outside / "secret.env")
    with pytest.raises(UnsafePath):
        workspace.append_note(day, "07:00 before compaction", "the digest is due")
    assert (outside / "secret.env").read_text() == SECRET
    assert SECRET not in workspace.recent_notes(day)
    # A link planted where older runners kept their state is not read, and removing it
    # removes the link, not what it leads to.
    state = workspace.root / ".mcos" / "state.json"
    state.symlink_to(outside / "secret.env")
    assert workspace.old_state() is None
    workspace.forget_old_state()
    assert not state.is_symlink() and not state.exists()
    assert (outside / "secret.env").read_text() == SECRET
    assert files.workspace_path(workspace.root, "a/b.md") == workspace.root / "a" / "b.md"


def test_read_file_through_the_toolbox_answers_with_the_reason(
    workspace: Workspace, outside: Path, fleet: Fleet, tmp_path: Path
) -> None:
    quill = fleet.agent("quill")
    assert quill is not None
    (workspace.root / "minutes.md").write_text("Decided: sign the lease.")
    (workspace.root / "link.md").symlink_to(outside / "secret.env")

    async def read_all(paths: list[str]) -> list[ToolResult]:
        # Reading asks nothing: no control plane listens at this address.
        control = ControlPlane("http://127.0.0.1:9")
        outbox = Outbox(tmp_path / "outbox.db", lambda r: deliver(control, {}, r))
        toolbox = Toolbox(quill, workspace, AgentLink("quill", "", control, outbox))
        try:
            return [
                await toolbox.run(ToolCall("c", "read_file", json.dumps({"path": p})), None)
                for p in paths
            ]
        finally:
            outbox.close()
            await control.aclose()

    paths = ["minutes.md", "link.md", "../outside/secret.env", ".mcos/state.json"]
    read, *refused = asyncio.run(read_all(paths))
    assert read.turn.text == "Decided: sign the lease."
    for path, result in zip(paths[1:], refused, strict=True):
        assert result.failed and SECRET not in result.turn.text, path


def test_write_file_asks_with_the_absolute_path_and_refused_paths_ask_nothing(
    srv: Server, workspace: Workspace, fleet: Fleet, tmp_path: Path
) -> None:
    quill = fleet.agent("quill")
    assert quill is not None
    token = srv.agent_token("quill")

    async def write_all(paths: list[str]) -> list[ToolResult]:
        control = ControlPlane(srv.url)
        outbox = Outbox(tmp_path / "outbox.db", lambda r: deliver(control, {}, r))
        toolbox = Toolbox(quill, workspace, AgentLink("quill", token, control, outbox))
        try:
            return [
                await toolbox.run(
                    ToolCall("c", "write_file", json.dumps({"path": p, "content": "minutes"})), 3
                )
                for p in paths
            ]
        finally:
            outbox.close()
            await control.aclose()

    written, *refusals = asyncio.run(
        write_all(
            ["minutes/./today.md", ".git/hooks/pre-commit", "../quill2/x.md", ".mcos/state.json"]
        )
    )
    assert written.turn.text == "wrote 7 characters to minutes/./today.md"
    assert all(r.failed for r in refusals), refusals
    with srv.client() as operator:
        decided = operator.get("/api/v1/events", params={"types": "policy.decided"}).json()
    asked = [e["data"]["action"] for e in decided["events"] if e["data"]["agent"] == "quill"]
    assert asked == [
        {
            "kind": "file.write",
            "command": None,
            "paths": [str(workspace.root / "minutes" / "today.md")],
            "host": None,
            "recipient": None,
            "amount_usd": None,
            "files_touched": 1,
        }
    ], "refused paths are refused before anything is asked"
