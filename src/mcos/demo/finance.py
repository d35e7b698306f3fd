"""Vega's scene: a variance analysis of Velocity Fibre's books through the real finance tools.

The demo writes the finance sample (:mod:`mcos.finance.sample`, generated the same at every
start: a budget, the ledger, invoices, the bank statement, activations and installations, with
eleven anomalies planted) into Vega's workspace. Her scripted model chooses the calls —
``read_workbook``, ``reconcile_workbooks``, ``write_analysis`` — and the real tools read the
files, reconcile them and write the analysis workbook, which ``write_analysis`` attaches to her
card. The narration's figures are read from that workbook, as the operator opens it.
"""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections import Counter
from typing import Any

from openpyxl import load_workbook

from mcos.contract import paths
from mcos.demo.director import Director
from mcos.demo.story import newest_file, task_reaches
from mcos.finance.sample import generate, sample_spec
from mcos.runtime.providers.base import ModelRequest
from mcos.runtime.providers.simulated import Step

TITLE = "Variance analysis: Velocity Fibre cost per activation"
DATA = "data/velocity-fibre"
"""Where the sample goes in Vega's workspace."""
OUTPUT = "analysis/velocity-fibre-h1-2026.xlsx"
_FINDING = re.compile(r"^F-\d+ \[(\w+)\] (\w+) ", re.MULTILINE)
_TASK = re.compile(r"Task #(\d+):")


def _counted(by_severity: Counter[str]) -> str:
    """``7 high, 3 medium, 1 low``: most severe first."""
    rank = {"high": 0, "medium": 1, "low": 2}
    ordered = sorted(by_severity.items(), key=lambda pair: rank.get(pair[0], 3))
    return ", ".join(f"{n} {severity}" for severity, n in ordered)


def _last_tool_text(request: ModelRequest) -> str:
    for turn in reversed(request.turns):
        if turn.role == "tool":
            return turn.text
    return ""


def _summary(request: ModelRequest) -> dict[str, Any]:
    """The scripted model's note on the card, from what ``write_analysis`` answered it."""
    asked = (_TASK.search(t.text) for t in request.turns if t.role == "user")
    task = next((int(m.group(1)) for m in asked if m), 0)
    found = _FINDING.findall(_last_tool_text(request))
    by_severity = Counter(severity for severity, _ in found)
    counted = _counted(by_severity)
    return {
        "task_id": task,
        "comment": f"(simulated) The analysis lists {len(found)} findings ({counted or 'none'}); "
        f"the workbook is on this card: {OUTPUT}.",
    }


def steps() -> list[Step]:
    spec = sample_spec(DATA)
    assert spec.checks
    return [
        Step.call("read_workbook", {"path": f"{DATA}/actuals.xlsx", "rows": 3}),
        Step.call(
            "reconcile_workbooks",
            {"match": spec.checks[0].model_dump(mode="json", exclude_defaults=True)},
        ),
        Step.call(
            "write_analysis",
            {
                "spec": spec.model_dump(mode="json", exclude_defaults=True),
                "output": OUTPUT,
                "note": "(simulated) H1 2026: variance, cost per activation, findings",
            },
        ),
        Step.call("update_task", _summary),
        Step.reply(
            "(simulated) Variance, cost per activation and the findings with their evidence "
            "cells are in the attached workbook."
        ),
    ]


def workbook_figures(content: bytes) -> dict[str, Any]:
    """What the operator reads in the workbook: the findings by severity and the first high
    one, and cost per activation from the values its formulas add up."""
    book = load_workbook(io.BytesIO(content), read_only=True)
    findings = [r for r in book["Findings"].iter_rows(min_row=2, values_only=True) if r and r[0]]
    actual = sum(
        row[3]
        for row in book["Variance"].iter_rows(min_row=2, max_col=4, values_only=True)
        if len(row) == 4 and isinstance(row[1], str) and isinstance(row[3], (int, float))
    )
    units = sum(
        row[2]
        for row in book["Cost per unit"].iter_rows(min_row=2, max_col=3, values_only=True)
        if len(row) == 3 and row[0] != "Total" and isinstance(row[2], int)
    )
    book.close()
    high = [f for f in findings if f[1] == "high"]
    return {
        "findings": len(findings),
        "by_severity": Counter(str(f[1]) for f in findings),
        "first": f"{high[0][4]}: {high[0][5]}" if high else None,
        "actual": actual,
        "units": units,
    }


async def vega_variance(d: Director) -> None:
    await asyncio.to_thread(generate, d.workspaces / "vega" / DATA)
    after = await d.last_seq()
    d.answer(TITLE, steps(), agent="vega")
    # Routed by the fleet file's [[routing]] rules, as Jarvis routes a request.
    routed = await d.call(
        "POST",
        paths.ROUTE,
        {
            "title": TITLE,
            "description": f"Velocity Fibre's H1 2026 books are in {DATA}/ (simulated sample): "
            "budget vs actual by cost line and month, cost per activation, and anything that "
            "does not reconcile.",
        },
    )
    task_id = routed["task_id"]
    why = "; ".join(routed["explanation"].splitlines())
    await d.narrate(f"A request for a variance analysis is routed (task #{task_id}): {why}")

    async def outcome() -> None:
        if not await task_reaches(d, task_id, ("review",), after):
            await d.narrate(f"Task #{task_id} is not finished yet; see the board.", outcome=True)
            return
        if not await _read(d, task_id):
            await d.narrate(f"Task #{task_id} has no workbook attached.", outcome=True)
            return
        await d.accept(task_id)

    d.watch(outcome())


async def _read(d: Director, task_id: int) -> bool:
    opened = await newest_file(d, task_id, ".xlsx")
    if opened is None:
        return False
    artifact, content = opened
    try:
        figures = await asyncio.to_thread(workbook_figures, content)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        await d.narrate(f"Vega's workbook on task #{task_id} cannot be read: {exc}", outcome=True)
        return True
    severities = _counted(figures["by_severity"])
    per_unit = figures["actual"] / figures["units"] if figures["units"] else 0
    await d.narrate(
        f"Vega's workbook {artifact['name']} v{artifact['version']} is on task #{task_id}, "
        f"written by the real finance tools from the sample books: {figures['findings']} "
        f"findings ({severities}), each citing its source cells; first: {figures['first']}. "
        f"H1 actual spend R{figures['actual']:,.2f} over {figures['units']} activations: "
        f"R{per_unit:,.2f} per activation (its formulas stay live). You open it and accept "
        "the work.",
        outcome=True,
    )
    return True
