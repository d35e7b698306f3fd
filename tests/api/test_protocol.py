"""``mcos serve``'s header and body timeouts (``mcos.api.protocol``), over raw sockets against a
real server: a client that sends nothing, half its headers, or part of a body is not waited on
for ever, and is told why in the one error shape when it began a request.

HTTP only, so SQLite only. The write timeout, which drops a live-stream subscriber that stopped
reading, is in ``test_stream.py``.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.fixtures import raw_http
from tests.fixtures.server import Server, running_server

HEADER_SECONDS = 1
BODY_SECONDS = 2


@pytest.fixture(scope="module")
def hasty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("protocol")
    settings = {
        "MCOS_HEADER_TIMEOUT_SECONDS": str(HEADER_SECONDS),
        "MCOS_BODY_TIMEOUT_SECONDS": str(BODY_SECONDS),
    }
    with running_server(Path(tmp), f"sqlite+pysqlite:///{tmp / 'mcos.db'}", settings) as srv:
        yield srv


def _timed_out(response: http.client.HTTPResponse, body: bytes, what: str) -> None:
    assert response.status == 408, body
    assert response.getheader("Connection") == "close"
    error = orjson.loads(body)["error"]
    assert (error["code"], error["field"]) == ("request_timeout", None)
    assert what in error["message"], error["message"]


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(hasty_server: Server) -> None:
    with raw_http.connect(hasty_server.url) as sock:
        assert raw_http.closed_by_server(sock), "closed, with nothing sent to it"


def test_headers_that_stall_are_answered_408_on_a_new_or_a_kept_alive_connection(
    hasty_server: Server,
) -> None:
    with raw_http.connect(hasty_server.url) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line
        response, body = raw_http.read_response(sock)
        _timed_out(response, body, "headers did not arrive")
        assert raw_http.closed_by_server(sock)

    with raw_http.connect(hasty_server.url) as sock:
        sock.sendall(raw_http.request_head("GET", "/api/v1/health", {}))
        response, _ = raw_http.read_response(sock)
        assert response.status == 200
        sock.sendall(b"GET /api/v1/hea")  # the next request on the same connection stalls
        response, body = raw_http.read_response(sock)
        _timed_out(response, body, "headers did not arrive")
        assert raw_http.closed_by_server(sock)


@pytest.mark.parametrize("path", ["/api/v1/messages", "/api/v1/agents/donna/heartbeat"])
def test_a_body_that_stalls_is_answered_408_and_logged_as_no_failure(
    hasty_server: Server, path: str
) -> None:
    """On a route FastAPI reads and on one read by hand (``api/body.py``) alike."""
    headers = {
        "Authorization": f"Bearer {hasty_server.operator_token}",
        "Content-Type": "application/json",
        "Content-Length": "100",
    }
    with raw_http.connect(hasty_server.url) as sock:
        sock.sendall(raw_http.request_head("POST", path, headers) + b'{"to": "donna", ')
        response, body = raw_http.read_response(sock, "POST")
        _timed_out(response, body, "body stalled")
        assert raw_http.closed_by_server(sock)
    log = hasty_server.log_path.read_text()
    assert "Traceback" not in log and "unexpected error" not in log, log[-3_000:]


def test_a_body_that_keeps_arriving_is_read_however_long_it_takes(hasty_server: Server) -> None:
    """The body timeout is between two reads, not for the whole body (nginx's rule)."""
    body = orjson.dumps({"status": "working", "note": "n" * 400})
    headers = {
        "Authorization": f"Bearer {hasty_server.operator_token}",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
    }
    pieces = [body[i : i + 50] for i in range(0, len(body), 50)]
    assert len(pieces) * 0.3 > BODY_SECONDS, "the whole body takes longer than the timeout"
    with raw_http.connect(hasty_server.url) as sock:
        sock.sendall(raw_http.request_head("POST", "/api/v1/agents/donna/heartbeat", headers))
        for piece in pieces:
            time.sleep(0.3)  # the pace of a slow client, well within the body timeout
            sock.sendall(piece)
        response, answer = raw_http.read_response(sock, "POST")
    assert response.status == 200, answer
    assert orjson.loads(answer)["liveness"] == "working"
