"""OpenTelemetry out: the server's request traces and the runtime's GenAI spans, when configured.

Nothing is exported unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set and
the SDK is installed (``pip install 'mcos[otel]'``); then :func:`configure` installs a tracer
provider with a batching OTLP/HTTP exporter as the global one, named by ``OTEL_SERVICE_NAME``
(default ``mcos-serve`` / ``mcos-run``) and reading the standard ``OTEL_*`` variables (headers,
timeout, compression, ``OTEL_BSP_*``). ``OTEL_SDK_DISABLED=true`` turns it off.

The spans follow the GenAI semantic conventions: one ``chat MODEL`` span per model call
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.agent.name``, request and
response model, ``gen_ai.usage.*`` with cached tokens inside ``input_tokens`` as the conventions
count them) and one ``execute_tool NAME`` span per tool call. Without a provider the API's
tracer does nothing, at a few microseconds a call.
"""

from __future__ import annotations

import atexit
import logging
import os
from typing import Any

from opentelemetry import trace

log = logging.getLogger(__name__)
_configured: list[Any] = []
"""The provider this process installed (at most one: the global provider is set once)."""


def endpoint_configured() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure(default_service_name: str) -> Any | None:
    """Install the exporting tracer provider if an endpoint is configured; return it, or None.

    Safe to call more than once: the first provider stays.
    """
    if _configured:
        return _configured[0]
    if not endpoint_configured():
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed: "
            "nothing is exported; install it with pip install 'mcos[otel]'"
        )
        return None
    service = os.environ.get("OTEL_SERVICE_NAME") or default_service_name
    resource = Resource.create({"service.name": service})  # with OTEL_RESOURCE_ATTRIBUTES
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured.append(provider)
    atexit.register(provider.shutdown)  # the last spans leave with the process
    return provider


def flush() -> None:
    """Send what the provider :func:`configure` installed still holds (a server stopping)."""
    for provider in _configured:
        provider.force_flush()


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)
