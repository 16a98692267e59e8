"""The server's Prometheus metrics, served on `--metrics-listen`; without it, nothing is kept.

prometheus_client is imported only when metrics are on: it costs a start-up a tenth of a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

# Seconds: from a fraction of a second (a warm process job) to an hour-long build.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Counters, gauges and histograms of jobs, workers, providers, logs and sagas."""

    def __init__(self, listen: str = ""):
        self.enabled = bool(listen)
        self.port = 0
        if not self.enabled:
            return
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            start_http_server,
        )

        r = self.registry = CollectorRegistry()
        self.submitted = Counter("laino_jobs_submitted", "Jobs submitted.", registry=r)
        self.finished = Counter(
            "laino_jobs_finished", "Jobs that ended, by outcome.", ["outcome"], registry=r
        )
        self.jobs = Gauge("laino_jobs", "Jobs by state (QUEUED: the queue).", ["state"], registry=r)
        self.workers = Gauge("laino_workers", "Workers by state.", ["state"], registry=r)
        self.to_running = Histogram(
            "laino_job_time_to_running_seconds",
            "From submission to the command running.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.to_terminal = Histogram(
            "laino_job_time_to_terminal_seconds",
            "From submission to a terminal state.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_calls = Histogram(
            "laino_provider_call_seconds",
            "Provider calls, by provider and call.",
            ["provider", "call"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.provider_errors = Counter(
            "laino_provider_call_errors",
            "Provider calls that failed, by provider, call and whether a retry may help.",
            ["provider", "call", "retryable"],
            registry=r,
        )
        self.bytes_ingested = Counter(
            "laino_log_bytes_ingested", "Bytes of job output stored from agents.", registry=r
        )
        self.bytes_dropped = Counter(
            "laino_log_bytes_dropped", "Bytes of job output dropped past its log limit.", registry=r
        )
        self.compensations = Counter(
            "laino_saga_compensations",
            "Saga steps undone, by step and outcome.",
            ["step", "outcome"],
            registry=r,
        )
        host, _, port = listen.rpartition(":")
        server, _ = start_http_server(int(port), addr=host or "0.0.0.0", registry=r)
        self.port = server.server_port

    def job_events(
        self, events: Sequence[DomainEventProtocol[UUID]], submitted_at: Callable[[UUID], float]
    ) -> None:
        if not self.enabled:
            return
        for event in events:
            kind, data = type(event).__name__, vars(event)
            if kind == "Submitted":
                self.submitted.inc()
            elif kind in ("Started", "Ended"):
                since = data["timestamp"].timestamp() - submitted_at(event.originator_id)
                if kind == "Started":
                    self.to_running.observe(since)
                else:
                    self.finished.labels(str(data["state"])).inc()
                    self.to_terminal.observe(since)

    def saga_events(self, events: Sequence[DomainEventProtocol[UUID]]) -> None:
        if not self.enabled:
            return
        for event in events:
            kind = type(event).__name__
            if kind in ("CompensationSucceeded", "CompensationFailed"):
                step = str(vars(event)["step"]).split("#")[0]
                outcome = "failed" if kind == "CompensationFailed" else "succeeded"
                self.compensations.labels(step, outcome).inc()

    def states(self, jobs: Mapping[str, int], workers: Mapping[str, int]) -> None:
        if not self.enabled:
            return
        for gauge, counts in ((self.jobs, jobs), (self.workers, workers)):
            for state, count in counts.items():
                gauge.labels(state).set(count)

    def provider_call(self, provider: str, call: str, seconds: float) -> None:
        if self.enabled:
            self.provider_calls.labels(provider, call).observe(seconds)

    def provider_error(self, provider: str, call: str, retryable: bool) -> None:
        if self.enabled:
            self.provider_errors.labels(provider, call, str(retryable).lower()).inc()

    def log_bytes(self, stored: int, dropped: int) -> None:
        if self.enabled:
            self.bytes_ingested.inc(stored)
            self.bytes_dropped.inc(dropped)
