"""Drive an installed ``mcos`` (a tool environment, a lowest-versions venv) the way a newcomer
does: ``init --minimal``, ``fleet check``, ``serve``, one task run by ``mcos run`` against the
fake provider, everything from the installed copy and nothing from this source tree."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.fixtures.processes import stop, wait_until
from tests.fixtures.server import free_port

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "mcos"


def uv() -> str:
    """The uv `make install` puts in .tools, else the one on PATH."""
    found = ROOT / ".tools" / "bin" / "uv"
    if found.is_file():
        return str(found)
    on_path = shutil.which("uv")
    assert on_path, "uv is needed to build and install the wheel: run `make install`"
    return on_path


def uv_env(**extra: str) -> dict[str, str]:
    """The environment for uv: this interpreter only, nothing of the test's own venv."""
    ours = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    env = {k: v for k, v in os.environ.items() if k not in ours}
    return env | {"UV_PYTHON_DOWNLOADS": "never"} | extra


def build_wheel(out: Path) -> Path:
    """``uv build --wheel`` of this checkout into ``out``: the wheel's path."""
    subprocess.run(
        [uv(), "build", "--wheel", "--quiet", "--out-dir", str(out), str(ROOT)],
        env=uv_env(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("mcos-*.whl")
    return wheel


def tracked_package_files() -> set[str]:
    """Every file of src/mcos in git, relative to the package: what the wheel must carry."""
    listed = subprocess.run(
        ["git", "ls-files", "src/mcos"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {str(Path(name).relative_to("src/mcos")) for name in listed}


@dataclass
class Installed:
    """An installed mcos: its ``mcos`` script and the Python of its environment."""

    mcos: Path
    python: Path
    work: Path

    @property
    def env(self) -> dict[str, str]:
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MCOS_", "ANTHROPIC_", "OPENAI_"))
            and k not in ("VIRTUAL_ENV", "PYTHONPATH")
        }
        return keep | {"XDG_CONFIG_HOME": str(self.work / "config")}

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.mcos), *args],
            env=env or self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, f"mcos {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result

    def python_says(self, code: str) -> str:
        """What ``code`` prints, run by the installed environment's Python."""
        return subprocess.run(
            [str(self.python), "-c", code],
            env=self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()

    def package_files(self) -> tuple[Path, set[str]]:
        """Where the installed package is, and every file in it (compiled files aside)."""
        where = Path(self.python_says("import mcos, os; print(os.path.dirname(mcos.__file__))"))
        files = {
            str(p.relative_to(where))
            for p in where.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        return where, files


@contextlib.contextmanager
def background(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process for the block's length, run in ``log``'s folder (not this checkout, whose
    source it must not see), stopped with SIGTERM (then SIGKILL) at its end."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop(process)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class SmokeResult:
    """What a newcomer would see: the task's end, the runner's log, the fake's requests."""

    task: dict[str, object]
    runner_log: str
    provider_requests: list[dict[str, object]]
    legal_templates: list[dict[str, object]]


PROVIDERS = {
    "anthropic": ("MCOS_ASSISTANT_ANTHROPIC_KEY", "ANTHROPIC_BASE_URL", ""),
    "openai": ("MCOS_ASSISTANT_OPENAI_KEY", "OPENAI_BASE_URL", "/v1"),
}
"""Per provider: the variable of the agent's key, and how the SDK is pointed at the fake."""


def use_openai(fleet_file: Path) -> None:
    """Switch the minimal fleet's agent to OpenAI, as the fleet file's comment says to."""
    text = fleet_file.read_text()
    for old, new in [
        ('provider = "anthropic"', 'provider = "openai"'),
        ('model = "claude-haiku-4-5"', 'model = "gpt-4.1-mini"'),
        ('credential = "MCOS_ASSISTANT_ANTHROPIC_KEY"', 'credential = "MCOS_ASSISTANT_OPENAI_KEY"'),
    ]:
        assert old in text, f"the minimal fleet no longer has {old}"
        text = text.replace(old, new)
    fleet_file.write_text(text)


def minimal_fleet_end_to_end(installed: Installed, provider: str = "anthropic") -> SmokeResult:
    """``init --minimal``, ``fleet check``, ``serve``, and one task done by ``mcos run`` with
    the agent's model on ``provider`` (the fake's)."""
    fleet = installed.work / "fleet"
    installed.run("init", "--minimal", str(fleet))
    if provider == "openai":
        use_openai(fleet / "fleet.toml")
    checked = installed.run("fleet", "check", str(fleet / "fleet.toml"))
    fleet_line, registry_line = checked.stdout.splitlines()  # and no warning
    assert fleet_line.endswith(": ok — 1 agent on 1 machine, 0 channels"), checked.stdout
    assert registry_line.endswith(": ok — 3 companies, 3 people"), checked.stdout

    port, fake_port = free_port(), free_port()
    url, fake_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{fake_port}"
    env = installed.env | {"MCOS_URL": url}
    token = (fleet / ".mcos" / "operator.token").read_text().strip()
    fake = [str(installed.python), "-m", "mcos.testing.fake_providers", "--port", str(fake_port)]
    # As the README says: `mcos init` remembered the fleet, so no --fleet from here on.
    serve = [str(installed.mcos), "serve", "--port", str(port)]
    run = [str(installed.mcos), "run"]
    key_variable, url_variable, url_path = PROVIDERS[provider]
    runner_env = env | {key_variable: "key-newcomer", url_variable: fake_url + url_path}
    with (
        background(fake, env, installed.work / "fake.log"),
        background(serve, env, installed.work / "serve.log") as server,
    ):
        wait_until(lambda: answers(url + "/api/v1/health") or server.poll() is not None, "serve")
        assert server.poll() is None, (installed.work / "serve.log").read_text()
        wait_until(lambda: answers(fake_url + "/_fake/requests"), "the fake provider")
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:200]
        assert httpx.get(url + "/static/app.js").status_code == 200, "the dashboard's files"
        templates = json.loads(installed.run("legal", "templates", "--json", env=env).stdout)

        added = installed.run(
            "tasks", "add", "Say hello", "--assignee", "assistant", "--json", env=env
        )
        task_id = json.loads(added.stdout)["id"]
        headers = {"Authorization": f"Bearer {token}"}

        def task() -> dict[str, object]:
            got: dict[str, object] = httpx.get(
                f"{url}/api/v1/tasks/{task_id}", headers=headers, timeout=10
            ).json()
            return got

        with background(run, runner_env, installed.work / "run.log") as runner:
            wait_until(lambda: task()["status"] == "review" or runner.poll() is not None, "run")
        assert runner.returncode == 0, (installed.work / "run.log").read_text()
        requests = httpx.get(fake_url + "/_fake/requests").json()["requests"]
        return SmokeResult(
            task=task(),
            runner_log=(installed.work / "run.log").read_text(),
            provider_requests=requests,
            legal_templates=templates,
        )
