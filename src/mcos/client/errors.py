"""The two ways a request to the control plane fails, read from its answer in one place.

:class:`ApiError` is the control plane's refusal (a 4xx, in its one error shape): sending the
same request again will not help. :class:`Unreachable` is the control plane not answering, or
answering 5xx or 429: the same request may succeed later, so writes carry a client id and are
retried (or queued in the outbox).
"""

from __future__ import annotations

from typing import Any

import orjson

from mcos.errors import McosError


class Unreachable(McosError):
    """The control plane did not answer (down, restarting), or answered 5xx or 429."""

    code = "control_plane_unreachable"

    def __init__(
        self, message: str, *, status: int | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.answered = status
        """The HTTP status it answered with, or ``None`` when it did not answer at all."""
        self.detail = detail
        """The control plane's own message, when its 5xx or 429 came in its error shape."""


class ApiError(McosError):
    """The control plane answered with its error shape (a 4xx): the request will not succeed.

    ``code`` is the server's (``invalid``, ``not_found``, ``policy_denied``, ``duplicate_id``...),
    ``field`` the input at fault (``id``, ``body``, ``heartbeats[2].agent``) or ``None``.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None,
        *,
        answer: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, field=field, code=code)
        self.status = status
        self.answer = answer
        """The whole answer, for routes that say more than the error (a refused legal draft)."""

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r}, field={self.field!r})"


def error_of(status: int, content: bytes, where: str) -> ApiError | Unreachable:
    """The error an answer with ``status`` >= 400 stands for; ``where`` names the request."""
    text = content[:300].decode("utf-8", "replace")
    try:
        body = orjson.loads(content)
        error = body["error"]
        code, message, field = error["code"], error["message"], error.get("field")
    except (ValueError, KeyError, TypeError):
        body = code = message = field = None
    if status >= 500 or status == 429:
        return Unreachable(
            f"control plane answered HTTP {status} to {where}: {text}",
            status=status,
            detail=message if isinstance(message, str) else None,
        )
    if isinstance(code, str) and isinstance(message, str):
        return ApiError(
            status, code, message, field if isinstance(field, str) else None, answer=body
        )
    return ApiError(status, "http_error", f"HTTP {status} from {where}: {text}", None)
