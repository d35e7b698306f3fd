"""mcos.logs: the JSON line's fields, the request id on request-scoped lines, and redaction."""

from __future__ import annotations

import json
import logging

import pytest

from mcos.logs import REQUEST_ID, JsonFormatter, TextFormatter, redact


def record(message: str, *args: object, name: str = "mcos.test") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None)


def test_a_json_line_has_time_level_logger_message() -> None:
    line = json.loads(JsonFormatter().format(record("agent %s went quiet", "flow")))
    assert line["level"] == "WARNING" and line["logger"] == "mcos.test"
    assert line["message"] == "agent flow went quiet"
    assert line["time"].endswith("+00:00")
    assert "request_id" not in line, "not logged while handling a request"


def test_a_line_logged_while_a_request_is_handled_carries_its_id() -> None:
    reset = REQUEST_ID.set("req-42")
    try:
        line = json.loads(JsonFormatter().format(record("handled")))
    finally:
        REQUEST_ID.reset(reset)
    assert line["request_id"] == "req-42"


def test_an_access_line_has_its_parts() -> None:
    access = record(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/api/v1/agents",
        "1.1",
        401,
        name="uvicorn.access",
    )
    line = json.loads(JsonFormatter().format(access))
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/agents", 401)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Authorization: Bearer abcdefgh123", "Authorization: Bearer [redacted]"),
        ("token mcos_o_AbC-d_ef12 used", "token mcos_o_[redacted] used"),
        ("cookie mcos_s_Zz9-_x", "cookie mcos_s_[redacted]"),
        ("{'authorization': 'Basic dXNlcjpwYXNz'}", "{'authorization': 'Basic [redacted]'}"),
        ("api_key=sk-ant-123456 sent", "api_key=[redacted] sent"),
        ('"x-api-key": "sk-1"', '"x-api-key": "[redacted]"'),
        ("password_env = MCOS_MAIL_PASSWORD", "password_env = MCOS_MAIL_PASSWORD"),
        ("GET /api/v1/tokens/current 200", "GET /api/v1/tokens/current 200"),
    ],
)
def test_redact_hides_credentials_and_nothing_else(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_both_formats_redact() -> None:
    leaky = record("sent %s", "Bearer mcos_a_secretsecretsecret")
    assert "secretsecret" not in JsonFormatter().format(leaky)
    assert "secretsecret" not in TextFormatter("%(message)s").format(leaky)
