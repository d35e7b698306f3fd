"""Request bodies of the legal endpoints (validated like every body: ``mcos.contract.requests``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mcos.contract.requests import ClientId, _Input

RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,39}$")]
EntityKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9-]*$")]
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
FieldValue = (
    Annotated[str, Field(max_length=8_000)]
    | int
    | float
    | list[Annotated[str, Field(max_length=8_000)]]
)
TemplateKey = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z][a-z0-9-]*$")]
MAX_UPLOAD_BASE64 = 14_000_000
"""About 10 MB of .docx, base64-encoded."""


class DraftIn(_Input):
    id: ClientId | None = None
    """Client-chosen id; a retried draft with the same id is recorded once."""
    template: TemplateKey
    parties: dict[RoleName, EntityKey] = Field(max_length=10)
    """Each role of the template and the registry key of the company or person in it."""
    fields: dict[FieldName, FieldValue] = Field(default_factory=dict, max_length=60)
    note: str = Field("", max_length=2_000)
    """What changed in this version, for the artifact and the task's comment."""


class CheckIn(_Input):
    template: TemplateKey
    parties: dict[RoleName, EntityKey] = Field(max_length=10)
    content_base64: str = Field(min_length=4, max_length=MAX_UPLOAD_BASE64)
    """The ``.docx`` file, base64-encoded."""
