"""Traces for every laino process: the CLI, the server and the agent.

Tracing is on when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`); the other
standard `OTEL_*` variables configure it. Off, nothing of OpenTelemetry is even imported, so it
costs nothing. Context crosses processes as a W3C `traceparent` string: in gRPC metadata, in a
job's events, and in a worker's environment. It lives here, beside the agent, because the
agent must run in a worker without the orchestrator.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

TRACEPARENT = "traceparent"
# The worker's environment variable that carries the trace context to the agent.
TRACEPARENT_ENV = "TRACEPARENT"
EXPORT_TIMEOUT = 2.0


class Span:
    """A span as laino uses it: attributes, an error, and its context for others to continue."""

    def __init__(self, span: Any = None):
        self._span = span

    @property
    def traceparent(self) -> str:
        if self._span is None:
            return ""
        context = self._span.get_span_context()
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"

    def set(self, **attributes: Any) -> None:
        if self._span is not None:
            for key, value in attributes.items():
                self._span.set_attribute(f"laino.{key}", value)

    def error(self, message: str) -> None:
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, message))


class Tracing:
    """Makes spans when tracing is configured, and nothing at all when it is not."""

    def __init__(self, service: str, env: Mapping[str, str] = os.environ):
        names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",")]
        self.exporters = [n for n in names if n and n != "none"]
        self._provider: Any = None
        self._tracer: Any = None
        if self.exporters:
            self._provider = _provider(service, self.exporters, env)
            self._tracer = self._provider.get_tracer("laino")

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @contextlib.contextmanager
    def span(self, name: str, *, parent: str = "", **attributes: Any) -> Iterator[Span]:
        """A span, child of `parent` (a traceparent) if given, else of the current span."""
        if self._tracer is None:
            yield Span()
            return
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        context = TraceContextTextMapPropagator().extract({TRACEPARENT: parent}) if parent else None
        with self._tracer.start_as_current_span(name, context=context) as span:
            made = Span(span)
            made.set(**attributes)
            yield made

    def shutdown(self) -> None:
        """Exports what is still buffered; call before the process ends."""
        if self._provider is not None:
            self._provider.shutdown()


def trace_id(traceparent: str) -> str:
    """The trace id in a traceparent, or "" if there is none."""
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 else ""


def _provider(service: str, exporters: list[str], env: Mapping[str, str]) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)
    for name in exporters:
        if name == "console":
            # stderr: a CLI's stdout is the job's output.
            exporter: Any = ConsoleSpanExporter(out=sys.stderr)
        elif name == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                    OTLPSpanExporter,
                )
            except ImportError as err:
                message = "OTEL_TRACES_EXPORTER=otlp needs the exporter: pip install 'laino[otlp]'"
                raise TracingUnavailable(message) from err
            # The SDK's 10 s would hold up every CLI's exit while a collector is down.
            timeouts = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
            exporter = OTLPSpanExporter(
                timeout=None if any(t in env for t in timeouts) else EXPORT_TIMEOUT
            )
        else:
            raise TracingUnavailable(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r}")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class TracingUnavailable(RuntimeError):
    """The environment asks for tracing that cannot be set up."""
