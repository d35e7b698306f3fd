"""Apex's scene: a contractor agreement drafted as a real ``.docx`` from the entity registry.

Apex's scripted model looks both companies up in the demo fleet's registry (``look_up_entity``)
and calls ``draft_document`` for an independent contractor agreement: Velocity Fibre engages
Mokoena Splicing CC at R85,000 a month for 12 months (the agreement the exec committee votes on
at 13:30). The control plane renders it from the registry, checks it, attaches it to the card
and moves the card to review. The director, as the operator, opens it, comments and sends it
back; Apex drafts v2 as asked, which waits in Review. The narration reads each version back
from the task's files.
"""

from __future__ import annotations

import asyncio
import io
import re
from datetime import date
from typing import Any

from docx import Document

from mcos.contract import paths
from mcos.demo.director import Director
from mcos.demo.story import newest_file, task_reaches
from mcos.runtime.providers.simulated import Step

TITLE = "Draft the independent contractor agreement (R85k/month)"
TEMPLATE = "independent-contractor-agreement"
PARTIES = {"client": "velocity-fibre", "contractor": "mokoena-splicing"}
REVIEW = (
    "(simulated) Looks right. Two changes before the committee sees it: 60 days' notice either "
    "way, and pay within 14 days of a valid tax invoice."
)
"""The operator's comment sending v1 back: it is also what the script for v2 answers."""


def _first_of_next_month(today: date) -> str:
    return date(today.year + today.month // 12, today.month % 12 + 1, 1).isoformat()


def _fields(today: date, **changes: Any) -> dict[str, Any]:
    return {
        "effective_date": _first_of_next_month(today),
        "services": [
            "Splicing and testing of fibre on Velocity Fibre's Gauteng build",
            "Fault repair on the live network within the agreed response times",
            "As-built records of every splice, delivered weekly",
        ],
        "monthly_fee": 85000,
        "term_months": 12,
        "place_of_work": "Velocity Fibre's network build sites in Gauteng",
        **changes,
    }


def _draft(today: date, note: str, **changes: Any) -> Step:
    return Step.call(
        "draft_document",
        {"template": TEMPLATE, "parties": PARTIES, "fields": _fields(today, **changes),
         "note": note},
    )  # fmt: skip


def docx_text(content: bytes) -> str:
    """The document's text, paragraphs and tables, as a word processor shows it."""
    document = Document(io.BytesIO(content))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        lines += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(lines)


async def apex_contract(d: Director) -> None:
    today = d.today()
    after = await d.last_seq()
    # v2, once the operator's comment sends the card back (it is in that prompt only).
    d.answer(
        REVIEW,
        [
            _draft(
                today,
                "(simulated) v2: 60 days' notice, paid within 14 days, as asked",
                notice_days=60,
                payment_days=14,
            ),
            Step.reply("(simulated) v2 drafted with your two changes; it is back in review."),
        ],
        agent="apex",
    )
    steps = [
        Step.call("look_up_entity", {"query": "Velocity Fibre"}),
        Step.call("look_up_entity", {"query": "Mokoena Splicing"}),
        _draft(today, "(simulated) first draft: R85,000/month, 12 months"),
        Step.reply(
            "(simulated) Drafted the agreement from the registry's facts; it waits in review."
        ),
    ]
    task_id = await d.task(
        "apex",
        TITLE,
        steps,
        kind="legal-document",
        priority="high",
        description="Velocity Fibre engages Mokoena Splicing CC as a splicing contractor: "
        "R85,000 a month excluding VAT, 12 months. Parties from the entity registry.",
    )
    await d.narrate(f"Apex drafts a contractor agreement for your review (task #{task_id}).")

    async def outcome() -> None:
        if not await task_reaches(d, task_id, ("review",), after):
            await d.narrate(f"Apex's draft (task #{task_id}) is not ready yet.", outcome=True)
            return
        first = await _read(d, task_id)
        if first is None:
            await d.narrate(f"Task #{task_id} is in review with no .docx.", outcome=True)
            return
        await d.narrate(
            f"Apex's draft {first} is on task #{task_id}: rendered by the control plane from "
            "the entity registry (names, registration numbers, domicilia, signature blocks) "
            "and checked against it. You open it, comment and send it back.",
            outcome=True,
        )
        mark = await d.last_seq()
        await d.call("POST", paths.comments(task_id), {"body": REVIEW})
        await d.call(
            "POST",
            paths.move(task_id),
            {"status": "in_progress", "reason": "(simulated) two changes asked for"},
        )
        if not await task_reaches(d, task_id, ("review",), mark):
            await d.narrate(f"Apex's v2 (task #{task_id}) is not ready yet.", outcome=True)
            return
        second = await _read(d, task_id)
        await d.narrate(
            f"Apex drafted {second} with your changes; it waits in the Review column: move it "
            "to done when you are happy, and the ledger credits 4 hours of legal work.",
            outcome=True,
        )

    d.watch(outcome())


_FACTS = {
    "fee": re.compile(r"monthly fee of (R[\d\s,.]+\d)"),
    "notice": re.compile(r"on (\d+) \(\w+\) days' written notice"),
    "paid within": re.compile(r"valid invoice within (\d+) \(\w+\) days"),
}
_PARTY = re.compile(r"^1\.\d\t(.+?), registration number (\S+) \(", re.MULTILINE)


def contract_facts(text: str) -> str:
    """``Velocity Fibre (Pty) Ltd (2019/407215/07) and ...; fee R85 000.00; notice 30 days;
    ...; 3 signature blocks``: what the operator checks in the draft, read from its text."""
    parties = " and ".join(f"{name} ({number})" for name, number in _PARTY.findall(text))
    facts = [parties or "no parties found"]
    for label, pattern in _FACTS.items():
        found = pattern.search(text)
        if found:
            unit = " days" if label != "fee" else " a month"
            facts.append(f"{label} {' '.join(found.group(1).split())}{unit}")
    facts.append(f"{text.count('For and on behalf of:')} signature blocks")
    return "; ".join(facts)


async def _read(d: Director, task_id: int) -> str | None:
    """``NAME vN (the contract's facts)``, as the operator reads the newest version."""
    opened = await newest_file(d, task_id, ".docx")
    if opened is None:
        return None
    artifact, content = opened
    text = await asyncio.to_thread(docx_text, content)
    return f"{artifact['name']} v{artifact['version']} ({contract_facts(text)})"
