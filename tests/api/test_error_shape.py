"""The one error shape, pinned: every refusal is ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import httpx
import orjson
import psycopg

from tests.fixtures import raw_http
from tests.fixtures.server import Server, error_of

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # the default of max_request_bytes


def _oversize_message() -> bytes:
    return b'{"to": "donna", "body": "' + b"x" * MAX_REQUEST_BYTES + b'"}'


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_every_refusal_has_the_one_shape(server: Server) -> None:
    with (
        server.client() as operator,
        server.agent("sentinel") as sentinel,
        httpx.Client(base_url=server.url, timeout=30) as anonymous,
        server.client("mcos_a_not-a-real-token") as stranger,
    ):
        json_header = {"Content-Type": "application/json"}
        answers: dict[str, httpx.Response] = {
            "malformed_json": operator.post(
                "/api/v1/messages", content=b'{"to": "donna", ', headers=json_header
            ),
            "form_body": operator.post("/api/v1/messages", data={"to": "donna", "body": "hi"}),
            "text_body": operator.post(
                "/api/v1/messages",
                content=b'{"to": "donna", "body": "hi"}',
                headers={"Content-Type": "text/plain"},
            ),
            "unknown_field": operator.post(
                "/api/v1/messages", json={"to": "donna", "body": "hi", "urgency": "high"}
            ),
            "wrong_type": operator.post(
                "/api/v1/batch",
                json={"heartbeats": [{"id": "a", "agent": "donna", "context_tokens": "lots"}]},
            ),
            "missing_field": operator.post("/api/v1/tasks", json={"priority": "high"}),
            "unknown_agent": operator.post("/api/v1/agents/nobody/heartbeat", json={}),
            "unknown_agent_show": operator.get("/api/v1/agents/nobody"),
            "unknown_task": operator.get("/api/v1/tasks/4242"),
            "missing_token": anonymous.get("/api/v1/agents"),
            "not_bearer": anonymous.get("/api/v1/agents", headers={"Authorization": "Basic eDp5"}),
            "wrong_token": stranger.get("/api/v1/agents"),
            "other_agent": sentinel.post("/api/v1/agents/jarvis/heartbeat", json={}),
            "oversize": operator.post(
                "/api/v1/messages", content=_oversize_message(), headers=json_header
            ),
            "oversize_chunked": operator.post(
                "/api/v1/messages", content=_chunks(_oversize_message()), headers=json_header
            ),
            "unknown_endpoint": operator.get("/api/v1/nothing-here"),
            "wrong_method": operator.delete("/api/v1/agents"),
        }
        # The server is unharmed: a request just under the limit goes through.
        fits = operator.post(
            "/api/v1/events",
            json={"type": "runtime.fits", "data": {"text": "y" * 60_000}},
        )
    assert fits.status_code == 201, fits.text
    assert "transfer-encoding" not in answers["oversize"].request.headers
    assert "content-length" not in answers["oversize_chunked"].request.headers

    expected: dict[str, tuple[int, str, str | None]] = {
        "malformed_json": (400, "malformed_json", None),
        "form_body": (415, "unsupported_media_type", "Content-Type"),
        "text_body": (415, "unsupported_media_type", "Content-Type"),
        "unknown_field": (422, "invalid", "urgency"),
        "wrong_type": (422, "invalid", "heartbeats[0].context_tokens"),
        "missing_field": (422, "invalid", "title"),
        "unknown_agent": (404, "not_found", None),
        "unknown_agent_show": (404, "not_found", "name"),
        "unknown_task": (404, "not_found", "task_id"),
        "missing_token": (401, "unauthorized", "Authorization"),
        "not_bearer": (401, "unauthorized", "Authorization"),
        "wrong_token": (401, "unauthorized", "Authorization"),
        "other_agent": (403, "forbidden", "agent"),
        "oversize": (413, "payload_too_large", None),
        "oversize_chunked": (413, "payload_too_large", None),
        "unknown_endpoint": (404, "not_found", None),
        "wrong_method": (405, "method_not_allowed", None),
    }
    seen = {
        name: (response.status_code, error_of(response)["code"], error_of(response)["field"])
        for name, response in answers.items()
    }
    assert seen == expected
    for response in answers.values():
        assert response.headers["content-type"] == "application/json"
        assert error_of(response)["message"]
    # Messages name the bad value, not only the field.
    assert "'lots'" in error_of(answers["wrong_type"])["message"]
    assert "nobody" in error_of(answers["unknown_agent"])["message"]
    assert "4194304" in error_of(answers["oversize_chunked"])["message"]


def _drop_table(database_url: str, table: str) -> None:
    """A fault under the service, as a lost disk or a bad migration would cause."""
    if database_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(database_url.split("///", 1)[1])) as conn:
            conn.execute(f"DROP TABLE {table}")
        return
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"DROP TABLE {table} CASCADE")


def test_a_failure_is_a_500_in_the_one_shape_and_the_client_is_told_the_connection_closes(
    server: Server,
) -> None:
    _drop_table(server.database_url, "memory_notes")
    headers = {"Authorization": f"Bearer {server.operator_token}"}
    with raw_http.connect(server.url) as sock:
        sock.sendall(raw_http.request_head("GET", "/api/v1/agents/donna/memory", headers))
        response, body = raw_http.read_response(sock)
        assert response.status == 500
        assert response.getheader("Connection") == "close", "a client must not reuse it"
        assert response.getheader("Content-Type") == "application/json"
        assert orjson.loads(body) == {
            "error": {
                "code": "internal_error",
                "message": "the control plane failed; the error is in its log",
                "field": None,
            }
        }
        assert raw_http.closed_by_server(sock), "the server closes it, as it said"
    with server.client() as operator:
        assert operator.get("/api/v1/agents").status_code == 200, "and goes on serving"
