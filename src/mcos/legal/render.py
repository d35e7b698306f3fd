"""Render a draft from a template, the registry and the caller's fields, and check it.

``render`` always runs the checker on the file it wrote: the fields are the caller's free text
and may carry a wrong name or number. A draft that disagrees with the registry is refused with
:class:`DraftRefused`, which names each disagreement and the registry's right value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from mcos.errors import InvalidInput
from mcos.legal.check import Disagreement, check_docx
from mcos.legal.compose import compose
from mcos.legal.docx_io import write_docx
from mcos.legal.fields import fill
from mcos.legal.parties import Party, resolve
from mcos.legal.template import DocumentTemplate, template


class DraftRefused(InvalidInput):
    """The draft disagrees with the registry; ``disagreements`` says where, one by one."""

    code = "draft_refused"

    def __init__(self, disagreements: list[Disagreement]) -> None:
        listed = "; ".join(f"({i}) {d.message}" for i, d in enumerate(disagreements, 1))
        super().__init__(
            f"the draft disagrees with the entity registry, so it was not attached: {listed}. "
            "Party facts come from the registry only: name parties by their registry keys and "
            "leave names, registration numbers and signatories out of the fields.",
            field="fields",
        )
        self.disagreements = disagreements


@dataclass(frozen=True)
class Draft:
    template: DocumentTemplate
    parties: list[Party]
    content: bytes

    @property
    def filename(self) -> str:
        """``independent-contractor-agreement-velocity-fibre-mokoena-splicing.docx``."""
        slug = "-".join([self.template.key, *(p.key for p in self.parties)])
        return re.sub(r"[^a-z0-9-]+", "-", slug.lower()).strip("-")[:150] + ".docx"


def signing_roles(t: DocumentTemplate) -> set[str]:
    return {p.role for p in t.parties if p.signs}


def render(
    template_key: str,
    parties: dict[str, str],
    fields: dict[str, Any],
    registry: Any,
    *,
    today: date,
) -> Draft:
    """The checked ``.docx`` of ``template_key`` between ``parties`` (role → registry key)."""
    t = template(template_key)
    resolved = resolve(t, parties, registry)
    filled = fill(t, fields)
    blocks = compose(t, resolved, filled, today)
    sender = next((p for p in resolved if p.role in signing_roles(t)), resolved[0])
    content = write_docx(blocks, title=t.title, author=sender.name)
    problems = check_docx(content, resolved, registry, signing_roles(t))
    if problems:
        raise DraftRefused(problems)
    return Draft(t, resolved, content)


def check_draft(
    content: bytes, template_key: str, parties: dict[str, str], registry: Any
) -> list[Disagreement]:
    """Check a ``.docx`` made elsewhere (uploaded, edited by hand) as a draft of
    ``template_key`` between ``parties``; the disagreements, none when it is right."""
    t = template(template_key)
    return check_docx(content, resolve(t, parties, registry), registry, signing_roles(t))
