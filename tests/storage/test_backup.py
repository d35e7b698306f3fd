"""``mcos backup`` / ``mcos restore``: a backup taken while a real control plane takes writes
restores, on a fresh database, to a fleet with every event acknowledged before it began."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from tests.fixtures.database import own_postgres_database
from tests.fixtures.server import Server, mcos_env, run_mcos, running_server


@contextlib.contextmanager
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same back end, in a folder of its own (its blobs too)."""
    if database_url.startswith("sqlite"):
        folder = tmp_path / "restored"
        folder.mkdir()
        yield f"sqlite+pysqlite:///{folder / 'mcos.db'}"
    else:
        with own_postgres_database("restore") as url:
            yield url


class Load:
    """Heartbeats and events from one agent in a thread; remembers each acknowledged event."""

    def __init__(self, server: Server) -> None:
        self.client = server.agent("donna")
        self.acked: dict[int, dict[str, Any]] = {}
        self.stop = threading.Event()
        self.enough = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                n += 1
                beat = self.client.post("/api/v1/agents/donna/heartbeat", json={"note": f"{n}"})
                assert beat.status_code == 200, beat.text
                body = {"type": "runtime.load_test", "data": {"n": n}}
                answer = self.client.post("/api/v1/events", json=body)
                assert answer.status_code == 201, answer.text
                event = answer.json()
                self.acked[event["seq"]] = event
                if len(self.acked) >= 40:
                    self.enough.set()
        except BaseException as exc:
            self.error = exc
            self.enough.set()

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(60)
        self.client.close()


def all_events(client: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.get("/api/v1/events", params={"after": after, "limit": 5000})
        assert page.status_code == 200, page.text
        found = page.json()["events"]
        if not found:
            return events
        events.extend(found)
        after = found[-1]["seq"]


def test_backup_under_load_restores_every_acknowledged_event(
    database_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "backups" / "fleet.tar.gz"
    with running_server(tmp_path, database_url) as server:
        with server.client() as operator:
            tasks = []
            for title in ("Triage the inbox", "Draft the board pack"):
                made = operator.post("/api/v1/tasks", json={"title": title, "assignee": "donna"})
                assert made.status_code == 201, made.text
                tasks.append(made.json())
            content = b"# Board pack\n\nFigures for the quarter.\n"
            upload = operator.post(
                f"/api/v1/tasks/{tasks[1]['id']}/artifacts",
                params={"name": "board.md"},
                content=content,
                headers={"Content-Type": "text/markdown"},
            )
            assert upload.status_code == 201, upload.text
            artifact = upload.json()
            with Load(server) as load:
                assert load.enough.wait(120), "the load thread got its writes acknowledged"
                assert load.error is None, load.error
                acked_before = dict(load.acked)  # acknowledged before the backup began
                made_backup = server.mcos("backup", str(archive), "--fleet", str(server.fleet_dir))
            assert load.error is None, load.error
            agents_then = operator.get("/api/v1/agents").json()
            tasks_then = operator.get("/api/v1/tasks").json()
    assert "Backed up to" in made_backup.stdout
    with tarfile.open(archive) as tar:
        manifest = orjson.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["last_seq"] >= max(acked_before), "the backup holds what was acknowledged"

    with fresh_database(database_url, tmp_path) as target:
        env = server.env | {"MCOS_DATABASE_URL": target}
        restored = Server(server.fleet_dir, target, env)
        done = restored.mcos("restore", str(archive), "--fleet", str(server.fleet_dir), "--json")
        assert orjson.loads(done.stdout)["last_seq"] == manifest["last_seq"]
        restored.start()
        try:
            with restored.client() as operator:
                events = all_events(operator)
                agents_now = operator.get("/api/v1/agents").json()
                tasks_now = operator.get("/api/v1/tasks").json()
                got = operator.get(
                    f"/api/v1/tasks/{tasks[1]['id']}/artifacts/{artifact['id']}/content"
                )
        finally:
            restored.stop()

    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, manifest["last_seq"] + 1)), "no gap in the restored event log"
    by_seq = {e["seq"]: e for e in events}
    for seq, event in acked_before.items():
        assert by_seq[seq]["data"] == event["data"], f"acknowledged event {seq} was restored"
    assert {a["name"] for a in agents_now["agents"]} == {a["name"] for a in agents_then["agents"]}
    assert [(t["id"], t["title"]) for t in tasks_now["tasks"]] == [
        (t["id"], t["title"]) for t in tasks_then["tasks"]
    ]
    assert got.status_code == 200, got.text
    assert got.content == content, "artifact content came back with the database"


def test_restore_refuses_a_running_servers_database_and_a_full_one(
    database_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "fleet.tar.gz"
    with running_server(tmp_path, database_url) as server:
        fleet = str(server.fleet_dir)
        server.mcos("backup", str(archive), "--fleet", fleet)
        again = server.mcos("backup", str(archive), "--fleet", fleet, check=False)
        assert again.returncode != 0
        assert "already exists" in again.stderr and "(field: PATH)" in again.stderr
        live = server.mcos("restore", str(archive), "--fleet", fleet, "--force", check=False)
        assert live.returncode != 0
        assert "mcos serve" in live.stderr, live.stderr
    full = server.mcos("restore", str(archive), "--fleet", fleet, check=False)
    assert full.returncode != 0
    assert "not empty" in full.stderr and "(field: --force)" in full.stderr
    forced = server.mcos("restore", str(archive), "--fleet", fleet, "--force")
    assert "Restored" in forced.stdout


def test_restore_checks_what_it_is_given(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with running_server(tmp_path, url) as server:
        fleet = str(server.fleet_dir)
    not_a_backup = tmp_path / "notes.tar.gz"
    with tarfile.open(not_a_backup, "w:gz") as tar:
        tar.add(server.fleet_dir / "fleet.toml", arcname="fleet.toml")
    wrong = server.mcos("restore", str(not_a_backup), "--fleet", fleet, "--force", check=False)
    assert wrong.returncode != 0 and "not an mcos backup" in wrong.stderr
    missing = server.mcos("restore", str(tmp_path / "nope.tar"), "--fleet", fleet, check=False)
    assert missing.returncode != 0 and "(field: PATH)" in missing.stderr
    newer = tmp_path / "newer.tar.gz"
    manifest = {
        "format": "mcos-backup",
        "format_version": 1,
        "created_at": "2026-12-06T00:00:00+00:00",
        "mcos_version": "99.0",
        "backend": "postgresql",
        "revision": "0011",
        "last_seq": 0,
        "counts": {},
        "blobs": {"store": "postgresql", "files": 0, "missing": []},
        "pg_dump_version": "15.2",
    }
    (tmp_path / "manifest.json").write_bytes(orjson.dumps(manifest))
    with tarfile.open(newer, "w:gz") as tar:
        tar.add(tmp_path / "manifest.json", arcname="manifest.json")
    other = server.mcos("restore", str(newer), "--fleet", fleet, "--force", check=False)
    assert other.returncode != 0
    assert "postgresql backup" in other.stderr and "MCOS_DATABASE_URL" in other.stderr


def test_replicas_upgrading_at_once_upgrade_once(database_url: str, tmp_path: Path) -> None:
    processes = 4
    env = mcos_env(tmp_path)
    run_mcos("init", str(tmp_path / "fleet"), env=env)
    with fresh_database(database_url, tmp_path) as url:
        env = env | {"MCOS_DATABASE_URL": url}
        fleet = str(tmp_path / "fleet")
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "mcos", "db", "upgrade", "--fleet", fleet, "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        results = [(run.wait(120), *run.communicate()) for run in runs]
        current = run_mcos("db", "current", "--fleet", fleet, "--json", env=env)
    assert [code for code, _, _ in results] == [0] * processes, results
    answers = [orjson.loads(out) for _, out, _ in results]
    assert sum(1 for a in answers if a["before"] is None) == 1, "one replica built the schema"
    assert {a["revision"] for a in answers} == {orjson.loads(current.stdout)["head"]}
    assert orjson.loads(current.stdout)["at_head"] is True


def test_database_commands_name_a_database_they_cannot_reach(tmp_path: Path) -> None:
    env = mcos_env(tmp_path)
    run_mcos("init", str(tmp_path / "fleet"), env=env)
    missing = "postgresql+psycopg://postgres@127.0.0.1:5432/mcos_no_such_database"
    env = env | {"MCOS_DATABASE_URL": missing}
    fleet = str(tmp_path / "fleet")
    for command in (("db", "current"), ("backup", str(tmp_path / "b.tar.gz"))):
        answer = run_mcos(*command, "--fleet", fleet, env=env, check=False)
        assert answer.returncode == 1, answer.stderr
        assert "mcos_no_such_database" in answer.stderr and "Traceback" not in answer.stderr
