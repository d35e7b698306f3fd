"""The one error shape, and which error statuses an operation can answer.

Every error is ``{"error": {"code", "message", "field"}}`` (:class:`ErrorBody`). A route names
the statuses its own services raise (``responses=errors(404, 409)``: an id that may not exist, a
duplicate or a state the rules refuse); :func:`statuses_of` adds those that follow from the
operation's shape, so no route lists an error it cannot answer nor misses one it can:

- every operation: 408 (the request did not arrive in time) and 500;
- with a token: 401 (missing, unknown, expired, revoked) and 403 (a runner token without
  ``X-MCOS-Agent``, or naming another machine's agent; what the services refuse);
- with parameters, a header or a body: 422;
- with a JSON body: 400 (malformed), 413 (too large) and 415 (not JSON);
- every change: 503 (the control plane is shutting down, or its database refused the write).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    """Stable, machine-readable: ``invalid``, ``not_found``, ``illegal_transition``, ..."""
    message: str
    """What is wrong and, where it helps, how to fix it."""
    field: str | None
    """The input at fault, as a path such as ``heartbeats[2].agent``; null if none."""


class ErrorBody(BaseModel):
    """The one shape of every error answer."""

    error: ErrorDetail


MEANING: dict[int, str] = {
    400: "The body is empty or not JSON (malformed, not UTF-8, nested too deep)",
    401: "Missing, unknown, expired or revoked token (or an ended dashboard session)",
    403: "The token may not do this (an agent acts only as itself; a runner only as its "
    "machine's agents; operators only)",
    404: "No such thing (the id or name in the path, or one the body names)",
    408: "The request's headers or body did not arrive in time; the connection is closed",
    409: "Refused by the rules in the current state, or a client id used before (`duplicate_id`)",
    413: "The request body is too large",
    415: "The body is not sent as JSON (`Content-Type: application/json`)",
    422: "A field is invalid (the wrong type, out of range, NUL, NaN); `field` is its path",
    500: "The control plane failed; the connection is closed after this answer",
    503: "The control plane is shutting down or its database refused the write; retry",
}
"""What each status means, wherever it is answered; a route may say more for its own."""

ALWAYS = (408, 500)
WITH_TOKEN = (401, 403, 422)
"""422: an ``X-MCOS-Agent`` header that names no agent."""
WITH_INPUT = (422,)
WITH_JSON_BODY = (400, 413, 415, 422)
CHANGES = (503,)
REF = {"$ref": "#/components/schemas/ErrorBody"}


def errors(*statuses: int, **why: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: the statuses its services raise, each with the error
    schema; ``why`` gives a route's own reason for one (``s409="an illegal Kanban move"``)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description = why.get(f"s{status}", MEANING[status])
        out[status] = {"model": ErrorBody, "description": description}
    return out


def statuses_of(
    method: str, operation: dict[str, Any], *, authenticated: bool
) -> dict[str, dict[str, Any]]:
    """The error responses that follow from an operation's shape, by status text."""
    found: set[int] = set(ALWAYS)
    if authenticated:
        found.update(WITH_TOKEN)
    if operation.get("parameters"):
        found.update(WITH_INPUT)
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        found.update(WITH_JSON_BODY)
    elif body:
        found.update((413, 422))
    if method.lower() not in ("get", "head"):
        found.update(CHANGES)
    return {
        str(status): {
            "description": MEANING[status],
            "content": {"application/json": {"schema": REF}},
        }
        for status in sorted(found)
    }
