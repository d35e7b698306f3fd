"""What ``POST /v1/traces`` answers: OTLP's ``ExportTraceServiceResponse``, in the request's
encoding (described here in its JSON form; protobuf carries the same fields)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PartialSuccess(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rejectedSpans: str | int = 0
    errorMessage: str = ""


class OtlpAnswer(BaseModel):
    """Empty when every span was taken; ``partialSuccess`` names how many were refused, why."""

    model_config = ConfigDict(extra="forbid")

    partialSuccess: PartialSuccess | None = None
