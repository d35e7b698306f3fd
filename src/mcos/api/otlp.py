"""OTLP/HTTP traces in: ``POST /v1/traces``, protobuf or JSON, answered as OTLP answers.

The OTLP specification fixes the wire, not this project: a body is an
``ExportTraceServiceRequest`` in ``application/x-protobuf`` or in the OTLP JSON encoding
(``application/json``: lowerCamelCase keys, trace and span ids in hex rather than proto3 JSON's
base64), optionally gzip-compressed; a success is an ``ExportTraceServiceResponse`` (with
``partial_success`` when spans were rejected), and a failure is a ``google.rpc.Status`` in the
request's encoding with the HTTP status. The JSON Status also carries this API's one error shape
under ``error``, so a person reading it sees the same code and field as anywhere else.

Authentication is the bearer token (exporters send it through ``OTEL_EXPORTER_OTLP_HEADERS``):
an agent token, a runner token (for its machine's agents, with or without ``X-MCOS-Agent``) or
an operator token.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any, Literal

import anyio.to_thread
import orjson
from fastapi import APIRouter, Request
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.responses import Response

from mcos.api.auth import bearer_token, principal_for
from mcos.contract import paths
from mcos.contract.otlp import OtlpAnswer
from mcos.domain.genai_spans import GenAISpan, read_genai_spans
from mcos.errors import (
    Forbidden,
    MalformedJSON,
    McosError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from mcos.services.otlp import Ingested, ingest_spans
from mcos.services.store import Store
from mcos.settings import Settings

TRACES_PATH = paths.OTLP_TRACES
PROTOBUF = "application/x-protobuf"
JSON_TYPE = "application/json"
Encoding = Literal["protobuf", "json"]
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 413: 8, 415: 3, 422: 3, 429: 8, 503: 14}
"""HTTP status → ``google.rpc.Code`` (INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED...)."""
ID_FIELDS = ("traceId", "spanId", "parentSpanId")

router = APIRouter(tags=["opentelemetry"])


def encoding_of(content_type: str) -> Encoding | None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == PROTOBUF:
        return "protobuf"
    if media == JSON_TYPE:
        return "json"
    return None


def status_response(encoding: Encoding | None, error: McosError) -> Response:
    """The OTLP failure answer: a ``google.rpc.Status`` in the request's encoding (JSON when the
    encoding was not one of OTLP's)."""
    code = GRPC_CODES.get(error.status, 13)  # INTERNAL
    message = error.message
    if encoding == "protobuf":
        encoded = message.encode()
        # google.rpc.Status{int32 code = 1; string message = 2}, written out: two fields.
        body = bytes([0x08]) + _varint(code) + bytes([0x12]) + _varint(len(encoded)) + encoded
        return Response(body, status_code=error.status, media_type=PROTOBUF)
    payload = {"code": code, "message": message, "details": []} | error.body()
    return Response(orjson.dumps(payload), status_code=error.status, media_type=JSON_TYPE)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def too_large(content_type: str, max_bytes: int) -> tuple[str, bytes]:
    """The 413 of :class:`~mcos.api.limits.BodyLimit` for this route, as OTLP answers it."""
    error = PayloadTooLarge(f"the export request is larger than {max_bytes} bytes")
    response = status_response(encoding_of(content_type), error)
    return response.media_type or JSON_TYPE, bytes(response.body)


def decode_export(
    body: bytes, encoding: Encoding, content_encoding: str, max_bytes: int
) -> ExportTraceServiceRequest:
    """The export request of a body; raises an :class:`McosError` naming what is wrong."""
    content_encoding = content_encoding.strip().lower()
    if content_encoding == "gzip":
        body = _gunzip(body, max_bytes)
    elif content_encoding not in ("", "identity"):
        raise UnsupportedMediaType(
            f"Content-Encoding {content_encoding!r} is not supported; send gzip or none",
            field="Content-Encoding",
        )
    if encoding == "protobuf":
        try:
            return ExportTraceServiceRequest.FromString(body)
        except DecodeError as exc:
            raise MalformedJSON(
                f"the body is not an OTLP ExportTraceServiceRequest in protobuf: {exc}",
                code="malformed_protobuf",
            ) from None
    try:
        document = orjson.loads(body)
        _hex_ids_to_base64(document)
        return json_format.ParseDict(
            document, ExportTraceServiceRequest(), ignore_unknown_fields=True
        )
    except (
        orjson.JSONDecodeError,
        json_format.ParseError,
        ValueError,
        TypeError,
        RecursionError,
    ) as exc:
        raise MalformedJSON(
            f"the body is not an OTLP ExportTraceServiceRequest in JSON: {exc}"[:500]
        ) from None


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    inflate = zlib.decompressobj(wbits=31)
    try:
        out = inflate.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise MalformedJSON(
            f"the gzip body does not decompress: {exc}", code="malformed_gzip"
        ) from None
    if len(out) > max_bytes:
        raise PayloadTooLarge(f"the export request is larger than {max_bytes} bytes decompressed")
    return out


def _hex_ids_to_base64(document: Any) -> None:
    """OTLP JSON writes ids in hex; proto3 JSON (what ``ParseDict`` reads) wants base64."""
    if not isinstance(document, dict):
        raise ValueError("the body is not a JSON object")
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _convert(span)
                for link in _items(span, "links"):
                    _convert(link)


def _items(parent: Any, *keys: str) -> list[Any]:
    if not isinstance(parent, dict):
        raise ValueError("expected a JSON object")
    for key in keys:
        value = parent.get(key)
        if value is not None:
            if not isinstance(value, list):
                raise ValueError(f"{key} is not a list")
            return value
    return []


def _convert(item: Any) -> None:
    if not isinstance(item, dict):
        raise ValueError("a span is not a JSON object")
    for key in ID_FIELDS:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
        for name in (key, snake):
            value = item.get(name)
            if isinstance(value, str) and value:
                try:
                    item[name] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise ValueError(f"{key} {value[:40]!r} is not hex") from None


def _read(
    body: bytes, encoding: Encoding, content_encoding: str, settings: Settings
) -> list[GenAISpan]:
    export = decode_export(body, encoding, content_encoding, settings.otlp_max_bytes)
    spans, _ = read_genai_spans(export, settings.otlp_agent_attribute)
    return spans


@router.post(
    TRACES_PATH,
    summary="OTLP/HTTP traces in: GenAI spans become the agent's usage, gauge and tool calls",
    responses={
        200: {
            "model": OtlpAnswer,
            "description": "Taken (partialSuccess: how many spans were refused, and why)",
            "content": {PROTOBUF: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                JSON_TYPE: {"schema": {"type": "object"}},
            },
        },
        "security": [{"HTTPBearer": []}],
    },
)
async def export_traces(request: Request) -> Response:
    encoding = encoding_of(request.headers.get("content-type", ""))
    store: Store = request.app.state.store
    settings: Settings = request.app.state.settings
    try:
        principal = await principal_for(request, bearer_token(request), allow_runner=True)
        if encoding is None:
            raise UnsupportedMediaType(
                f"send OTLP as {PROTOBUF} or {JSON_TYPE}", field="Content-Type"
            )
        body = await request.body()
        spans = await anyio.to_thread.run_sync(
            _read, body, encoding, request.headers.get("content-encoding", ""), settings
        )
        ingested = (
            await store.write(ingest_spans, store.fleet, principal, spans) if spans else Ingested()
        )
        if ingested.refused and not ingested.recorded and not ingested.duplicates:
            raise Forbidden(ingested.message)
    except McosError as exc:
        return status_response(encoding, exc)
    answer = ExportTraceServiceResponse()
    if ingested.rejected:
        answer.partial_success.rejected_spans = ingested.rejected
        answer.partial_success.error_message = ingested.message
    if encoding == "protobuf":
        return Response(answer.SerializeToString(), media_type=PROTOBUF)
    return Response(json_format.MessageToJson(answer, indent=None), media_type=JSON_TYPE)
