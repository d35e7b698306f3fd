"""The end-of-run scan of every test's logs (tests/fixtures/log_scan.py) finds what it must."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.fixtures.log_scan import scan

TOKEN = "mcos_r_" + "Zq7" * 14


def test_it_finds_tokens_bearer_credentials_and_the_fake_keys(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mcos-log-scan-"))  # outside this run's own scan
    try:
        (folder / "a").mkdir()
        (folder / "a" / "serve.log").write_text(
            "INFO started\n"
            f"DEBUG token {TOKEN}\n"
            "DEBUG Authorization: Bearer [redacted]\n"
            "DEBUG Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload\n"
            "INFO credential MCOS_DONNA_ANTHROPIC_KEY is set\n"
            "DEBUG x-api-key: key-donna\n"
            "INFO a key-value store\n"
        )
        (folder / "notes.txt").write_text(TOKEN)  # not a log
        found = scan(folder)
    finally:
        shutil.rmtree(folder)
    assert [line.split(": ", 1)[0].rsplit(":", 1)[1] for line in found] == ["2", "4", "6"]


def test_a_secret_left_in_a_log_fails_the_whole_run(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="mcos-log-scan-"))
    try:
        test = base / "test_leaky.py"
        test.write_text(
            "def test_leaks(tmp_path):\n"
            f"    (tmp_path / 'run.log').write_text('mcos run: token {TOKEN}\\n')\n"
        )
        ran = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "tests.fixtures.log_scan",
             "--basetemp", str(base / "tmp"), "-c", "/dev/null", "--rootdir", str(base),
             str(test)],
            capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=120,
        )  # fmt: skip
    finally:
        shutil.rmtree(base)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "secrets in test logs" in ran.stdout and "run.log:1" in ran.stdout, ran.stdout
    assert "1 passed" in ran.stdout
