"""Every error answer has one shape, ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from mcos.api.responses import JSON
from mcos.errors import (
    InvalidInput,
    MalformedJSON,
    McosError,
    UnsupportedMediaType,
    error_body,
)

log = logging.getLogger(__name__)


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSON:
    return JSON(error_body(code, message, field), status_code=status, headers=headers)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = list(loc)
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or None


NOT_JSON = "send the body as JSON with 'Content-Type: application/json'"
EMPTY_BODY = "the body is empty: send a JSON object"


def error_from_validation(errors: list[Any]) -> McosError:
    """The first of pydantic's complaints, as our error: field path, value, what is wrong."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        return MalformedJSON(f"the body is not valid JSON: {first.get('ctx', {}).get('error')}")
    if first.get("type") == "model_attributes_type" and isinstance(first.get("input"), bytes):
        return UnsupportedMediaType(NOT_JSON, field="Content-Type")
    if first.get("type") == "missing" and tuple(first.get("loc", ())) == ("body",):
        return MalformedJSON(EMPTY_BODY)  # FastAPI's word for a required body that is empty
    # A problem found inside a value (``mcos.inputs.check_storable``) says where, past the field.
    inside = tuple(first.get("ctx", {}).get("at", ()))
    field = field_path((*first.get("loc", ()), *inside))
    message = str(first.get("msg", "invalid value"))
    if first.get("type") == "extra_forbidden":
        message = "unknown field"
    elif first.get("type") == "missing":
        message = "this field is required"
    elif "input" in first and len(repr(first["input"])) <= 80:
        message = f"{message} (got {first['input']!r})"
    more = len(errors) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return InvalidInput(message, field=field)


def validation_response(errors: list[Any]) -> JSON:
    error = error_from_validation(errors)
    return error_response(error.status, error.code, error.message, error.field)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(McosError)
    async def _mcos(_: Request, exc: McosError) -> JSON:
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSON:
        return validation_response(list(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSON:
        if exc.status_code == 400:
            # FastAPI's only 400: a body it could not decode as JSON (not UTF-8, too deep).
            error = MalformedJSON(unreadable_body(exc.__cause__))
            return error_response(error.status, error.code, error.message)
        codes = {404: "not_found", 405: "method_not_allowed"}
        message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), message)

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, exc: ClientDisconnect) -> JSON:
        # The client left while its body was read (or it stalled, see protocol.py): nobody is
        # there to read this, but it is no failure of ours to log.
        error = MalformedJSON(unreadable_body(exc))
        return error_response(error.status, error.code, error.message)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSON:
        # Starlette re-raises the exception after this answer, and the server then drops the
        # connection: say so, or a client reusing it would see its next request fail.
        log.exception("unexpected error")
        return error_response(
            500,
            "internal_error",
            "the control plane failed; the error is in its log",
            headers={"Connection": "close"},
        )


def unreadable_body(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not valid JSON: it is not UTF-8"
    if isinstance(cause, RecursionError):
        return "the body is not valid JSON: it nests too deeply"
    if isinstance(cause, ClientDisconnect):
        return "the body did not arrive whole: the client left"
    return "the body could not be read as JSON"
