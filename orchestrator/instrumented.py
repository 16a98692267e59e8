"""A provider whose calls are measured: a metric for each, a span for those that change things."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from laino.orchestrator.metrics import Metrics
from laino.providers.base import Handle, Observed, Provider, ProviderError, WorkerSpec
from laino.providers.tracing import Tracing

T = TypeVar("T")


class Instrumented:
    """Wraps a provider; status and owned are polled often, so they get no span."""

    def __init__(self, provider: Provider, *, tracing: Tracing, metrics: Metrics):
        self.provider = provider
        self.name = provider.name
        self.tracing = tracing
        self.metrics = metrics

    def start(self, spec: WorkerSpec) -> Handle:
        return self._traced("start", lambda: self.provider.start(spec), worker=spec.name)

    def status(self, handle: Handle) -> Observed:
        return self._timed("status", lambda: self.provider.status(handle))

    def logs(self, handle: Handle, tail: int) -> str:
        return self._traced("logs", lambda: self.provider.logs(handle, tail), worker=handle.name)

    def destroy(self, handle: Handle) -> None:
        self._traced("destroy", lambda: self.provider.destroy(handle), worker=handle.name)

    def owned(self) -> list[Handle]:
        return self._timed("owned", self.provider.owned)

    def _traced(self, call: str, fn: Callable[[], T], *, worker: str) -> T:
        with self.tracing.span(f"{self.name}.{call}", provider=self.name, worker=worker) as span:
            try:
                return self._timed(call, fn)
            except ProviderError as err:
                span.error(str(err))
                raise

    def _timed(self, call: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return fn()
        except ProviderError as err:
            self.metrics.provider_error(self.name, call, err.retryable)
            raise
        finally:
            self.metrics.provider_call(self.name, call, time.perf_counter() - started)
