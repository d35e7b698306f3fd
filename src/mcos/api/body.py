"""JSON bodies parsed by hand on the hot paths, documented all the same: the heartbeat, the
batch, and what every agent task sends (the policy question, moves, comments, usage, the budget
check).

FastAPI's body handling (``json.loads``, then validating a dict, through its dependency
machinery) costs about as much again as the rest of a heartbeat; pydantic's
``model_validate_json`` parses and validates in one pass. Errors keep the one error shape.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from mcos.api.errors import EMPTY_BODY, NOT_JSON, error_from_validation
from mcos.errors import MalformedJSON, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)
JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;|$)", re.IGNORECASE)

HAND_PARSED: list[type[BaseModel]] = []
"""Models read with :func:`json_body`; the OpenAPI document gets them as components."""


async def json_body(request: Request, model: type[M]) -> M:
    """The body as ``model``, refused as FastAPI's own body parsing would refuse it."""
    body = await request.body()
    if not body:
        raise MalformedJSON(EMPTY_BODY)
    if not JSON_TYPE.match(request.headers.get("content-type", "")):
        raise UnsupportedMediaType(NOT_JSON, field="Content-Type")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        # Located under "body" as FastAPI locates them, so a field named "body" (a comment's)
        # is not taken for the body itself.
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise error_from_validation(errors) from None


def documented_body(model: type[BaseModel], *, bearer: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads ``model`` with :func:`json_body`.

    ``bearer=False`` for a route that still takes ``CurrentPrincipal``: FastAPI documents its
    token already (a second entry would repeat it)."""
    HAND_PARSED.append(model)
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    extra: dict[str, Any] = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
    }
    if bearer:
        extra["security"] = [{"HTTPBearer": []}]
    return extra
