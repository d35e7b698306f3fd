"""OpenTelemetry out: with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, ``mcos serve`` exports its request
traces and ``mcos run`` one GenAI span per model call and per tool call, to a local receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.server import running_server
from tests.runtime.test_mcos_run import create_task, runner_env, start_runner, stop


class Receiver:
    """A tiny OTLP/HTTP collector: every span posted to ``/v1/traces``, with its resource."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                export = ExportTraceServiceRequest.FromString(body)
                with receiver.lock:
                    for resource_spans in export.resource_spans:
                        resource = _attributes(resource_spans.resource.attributes)
                        for scope in resource_spans.scope_spans:
                            for span in scope.spans:
                                receiver.spans.append(
                                    {
                                        "name": span.name,
                                        "service": resource.get("service.name"),
                                        "attributes": _attributes(span.attributes),
                                        "path": self.path,
                                    }
                                )
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def found(self, check: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self.lock:
            return [span for span in self.spans if check(span)]

    def wait_for(self, check: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 30
        while not (found := self.found(check)):
            assert time.monotonic() < deadline, f"no such span among {self.spans}"
            time.sleep(0.05)
        return found


def _attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        which = pair.value.WhichOneof("value")
        out[pair.key] = getattr(pair.value, which) if which else None
    return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()


def otel_env(receiver: Receiver) -> dict[str, str]:
    # The batch processor sends every 50 ms rather than every 5 s.
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_server_exports_its_request_traces(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    with running_server(tmp_path, database_url, otel_env(receiver)) as server:
        with server.client() as operator:
            assert operator.get("/api/v1/agents").status_code == 200
        [span] = receiver.wait_for(lambda s: s["attributes"].get("http.route") == "/api/v1/agents")
    assert span["path"] == "/v1/traces"
    assert span["service"] == "mcos-serve"
    assert span["attributes"].get("http.request.method") == "GET"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_runtime_exports_a_genai_span_per_model_call_and_tool_call(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    script = Script(
        [
            Rule(
                key="key-flow",
                steps=(
                    Step.call("read_file", {"path": "notes.md"}, prompt_tokens=3_000),
                    Step.reply("Read it; nothing to do.", prompt_tokens=3_400),
                ),
            )
        ]
    )
    with running_server(tmp_path, database_url) as server, FakeProviderServer(script) as fake:
        with server.client() as api:
            create_task(api, "Read the notes", "flow")
        runner = start_runner(server, "velo", runner_env(server, fake.url) | otel_env(receiver))
        try:
            chats = receiver.wait_for(
                lambda s: (
                    s["name"] == "chat claude-sonnet-4-6"
                    and s["attributes"].get("gen_ai.usage.input_tokens") == 3_400
                )
            )
            [tool] = receiver.wait_for(
                lambda s: s["attributes"].get("gen_ai.operation.name") == "execute_tool"
            )
        finally:
            assert stop(runner) == 0, (server.fleet_dir / "run-velo.log").read_text()
    chat = chats[0]["attributes"]
    assert chats[0]["service"] == "mcos-run"
    assert chat["gen_ai.agent.name"] == "flow"
    assert chat["gen_ai.provider.name"] == "anthropic"
    assert chat["gen_ai.request.model"] == "claude-sonnet-4-6"
    assert chat["gen_ai.usage.output_tokens"] > 0
    assert tool["attributes"]["gen_ai.tool.name"] == "read_file"
    assert tool["attributes"]["gen_ai.agent.name"] == "flow"
    first = receiver.found(
        lambda s: (
            s["name"] == "chat claude-sonnet-4-6"
            and s["attributes"].get("gen_ai.usage.input_tokens") == 3_000
        )
    )
    assert first, "the call before the tool is a span of its own"
