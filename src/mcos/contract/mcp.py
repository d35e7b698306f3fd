"""What ``POST /mcp`` answers: one JSON-RPC 2.0 message of the Model Context Protocol.

The MCP SDK writes it (``mcos.mcp.http``); this model only describes it in ``/openapi.json``. A
tool's own refusal is inside ``result`` (``isError`` with the server's error code), not a
JSON-RPC ``error``, which is kept for messages MCP itself cannot read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class JsonRpcError(BaseModel):
    code: int
    message: str
    data: Any = None


class JsonRpcAnswer(BaseModel):
    jsonrpc: Literal["2.0"]
    id: int | str | None
    result: dict[str, Any] | None = None
    """``tools/list``'s tools, or ``tools/call``'s ``content`` and ``structuredContent``."""
    error: JsonRpcError | None = None
