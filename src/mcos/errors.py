"""The one exception root and the one error shape.

Every error the API or the CLI shows a person is a :class:`McosError`. Subclasses carry the HTTP
status and a stable ``code``; ``field`` names the input at fault (a JSON path such as
``items[3].id``, a fleet-file key, a CLI option), or is ``None`` when no single field is to blame.
"""

from __future__ import annotations

from typing import Any


class McosError(Exception):
    """Root of every error mcos raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.field)


class UserError(McosError):
    """The caller's mistake: bad input, a missing thing, a forbidden act. Never retried as-is."""

    status = 400
    code = "bad_request"


class InvalidInput(UserError):
    status = 422
    code = "invalid"


class MalformedJSON(UserError):
    status = 400
    code = "malformed_json"


class Unauthorized(UserError):
    status = 401
    code = "unauthorized"


class Forbidden(UserError):
    status = 403
    code = "forbidden"


class NotFound(UserError):
    status = 404
    code = "not_found"


class Conflict(UserError):
    status = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class RequestTimeout(UserError):
    """The request did not arrive in time (its headers, or the rest of its body)."""

    status = 408
    code = "request_timeout"


class PayloadTooLarge(UserError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(UserError):
    status = 415
    code = "unsupported_media_type"


class ServiceUnavailable(McosError):
    """Not the caller's fault and worth retrying later (the writer is shutting down, say)."""

    status = 503
    code = "unavailable"


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The single error shape used by every endpoint and by ``--json`` CLI errors."""
    return {"error": {"code": code, "message": message, "field": field}}
