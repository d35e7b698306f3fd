"""bench/mail.py in its tiny mode, so the benchmark cannot rot unseen: it classifies a handful
of labelled mails, times the rules over a small backlog, prices the prompt, says that the
model measure was not taken when no key is set, and runs the real pipeline (Dovecot, the
runner's sync, a control plane) over a few hundred mails. Figures are checked to be there,
never how fast they are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mcos.testing.dovecot import available

BENCH = Path(__file__).resolve().parents[2] / "bench" / "mail.py"


def test_the_mail_benchmark_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    figures = tmp_path / "mail.json"
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--json-out", str(figures)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    found = json.loads(figures.read_text())
    rules = found["rules_quality"]
    assert rules["messages"] == 30
    assert rules["operator"]["tp"] + rules["operator"]["fn"] > 0
    assert rules["jarvis"]["tp"] + rules["jarvis"]["fn"] > 0
    assert found["model_quality"] == {
        "taken": False,
        "why": "neither ANTHROPIC_API_KEY nor OPENAI_API_KEY is set",
    }
    assert found["throughput"]["backlog"]["messages"] == 200
    assert found["throughput"]["backlog"]["rules_per_s"] > 0
    assert found["prompt_cost"]["day_usd"] > 0
    assert "precision" in done.stdout and "model measure NOT taken" in done.stdout
    assert "ESTIMATE" in done.stdout, "the token count is labelled as an estimate"
    pipeline = found["pipeline"]
    why_not = available()
    if why_not is not None:  # macOS: no Dovecot; the report says why
        assert pipeline == {"taken": False, "why": why_not}
        return
    for name, size in (("sample", 30), ("day", 80), ("backlog", 200)):
        load = pipeline[name]
        assert load["stored"] == load["delivered"] == size, f"{name}: every mail read once"
        assert load["mails_per_s"] > 0 and load["batch_report_p99_ms"] > 0
        assert load["digest_counts"]["untriaged"] == size - load["by_rules"]
        assert load["server_memory"]["peak_rss_mib"] > 0
        assert load["model_estimate"]["to_the_model"] == size - load["by_rules"]
    quality = pipeline["quality"]
    assert (
        quality["via_imap"]
        == quality["direct"]
        == {k: v for k, v in rules.items() if k in quality["direct"]}
    ), "the rules see through IMAP what they see in the sample itself"
    assert "real pipeline" in done.stdout and "mails/s" in done.stdout
    assert "via IMAP = direct" in done.stdout
